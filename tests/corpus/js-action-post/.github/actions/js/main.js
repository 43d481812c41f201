console.log("main ran with node " + process.version);
