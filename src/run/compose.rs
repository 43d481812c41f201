//! `--in-container`: act runs inside the simulator service of the compose file setup wrote,
//! started with the compose tool (v2 plugin or v1 binary) under a name of this run's own.
//!
//! What can go wrong: no compose file (run `actsim setup`), no compose tool installed; both
//! stop the run before act with the fix.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::time::Instant;

use super::userio;
use crate::docker::detect::ComposeTool;
use crate::error::Error;
use crate::system::process::Process;

/// What `--in-container` needs: the compose tool, the file and the simulator image.
pub struct Compose {
    pub tool: ComposeTool,
    pub file: PathBuf,
    pub image: String,
}

impl Compose {
    /// The compose file in `config_dir`, the act version its `.env` names (the simulator
    /// image's tag) and the compose tool.
    pub async fn find(process: &Process, config_dir: &Path) -> Result<Compose, Error> {
        let file = config_dir.join("docker-compose.yml");
        if userio::read_capped(&file).is_none() {
            return Err(Error::failed(
                format!(
                    "--in-container needs {}, which does not exist",
                    file.display()
                ),
                Some("write it: actsim setup".to_string()),
            ));
        }
        let env = userio::read_text(&config_dir.join(".env"))
            .map(|t| crate::doctor::parse_env(&t))
            .unwrap_or_default();
        let version = env
            .get("ACT_VERSION")
            .cloned()
            .unwrap_or_else(|| crate::act::DEFAULT_VERSION.to_string());
        let tool = crate::docker::detect::compose_tool(process, Instant::now() + Duration::from_secs(10))
            .await
            .ok_or_else(|| {
                Error::failed(
                    "--in-container needs docker compose (v2) or docker-compose (v1), and neither is installed",
                    Some("install compose v2: sudo apt-get install docker-compose-plugin".to_string()),
                )
            })?;
        Ok(Compose {
            tool,
            file,
            image: crate::render::image_for(&version),
        })
    }

    /// `compose -f FILE run --rm -T --name NAME SERVICE ACT_ARGS…`: the program and its
    /// arguments.
    pub fn command(&self, run_name: &str, act_args: Vec<String>) -> (PathBuf, Vec<String>) {
        let mut a: Vec<String> = self.tool.prefix.iter().map(|s| s.to_string()).collect();
        a.extend([
            "-f".into(),
            self.file.to_string_lossy().into_owned(),
            "run".into(),
            "--rm".into(),
            "-T".into(),
            "--name".into(),
            run_name.to_string(),
            crate::render::SERVICE.into(),
        ]);
        a.extend(act_args);
        (self.tool.program.clone(), a)
    }
}
