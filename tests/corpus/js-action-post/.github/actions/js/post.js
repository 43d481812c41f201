console.log("post fails");
process.exit(1);
