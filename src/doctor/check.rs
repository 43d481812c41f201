//! The checks doctor knows: [`CheckId`] is the only list of them (report order, titles,
//! the preflight's subset). The ids are a contract: documented in the README, read by
//! scripts, serialized exactly as `docker.cli`, `act.binary`, ….
//!
//! What can go wrong: nothing at run time; an id a newer actsim wrote and this one does
//! not know fails deserialization (loudly: the caller sees an error, not a shorter list).

crate::named_enum! {
    /// One check, by its stable id (`docker.cli`, as the JSON and the human report show
    /// it). `ALL` is every check, in report order.
    pub enum CheckId {
        DockerCli = "docker.cli",
        DockerEndpoint = "docker.endpoint",
        DockerSocket = "docker.socket",
        DockerDaemon = "docker.daemon",
        ActBinary = "act.binary",
        ActDocker = "act.docker",
        ContainerRun = "container.run",
        ContainerSocket = "container.socket",
        ComposeConfig = "compose.config",
        ActRun = "act.run",
        DockerResources = "docker.resources",
    }
}

impl CheckId {
    /// The checks `actsim run` starts with, in their report order: fast, and no
    /// container is started.
    pub const PREFLIGHT: [CheckId; 5] = [
        CheckId::DockerEndpoint,
        CheckId::DockerSocket,
        CheckId::DockerDaemon,
        CheckId::ActBinary,
        CheckId::ActDocker,
    ];

    /// The human title.
    pub const fn title(self) -> &'static str {
        match self {
            CheckId::DockerCli => "Docker CLI",
            CheckId::DockerEndpoint => "Daemon endpoint",
            CheckId::DockerSocket => "Daemon socket access",
            CheckId::DockerDaemon => "Docker daemon",
            CheckId::ActBinary => "act binary",
            CheckId::ActDocker => "act and Docker",
            CheckId::ContainerRun => "Container round trip",
            CheckId::ContainerSocket => "Docker from inside a container",
            CheckId::ComposeConfig => "Compose file",
            CheckId::ActRun => "Workflow run through act",
            CheckId::DockerResources => "Disk and memory for act",
        }
    }

    /// The position in [`CheckId::ALL`].
    pub fn index(self) -> usize {
        CheckId::ALL
            .iter()
            .position(|c| *c == self)
            .expect("ALL lists every check")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_names_are_the_ids_and_all_is_complete() {
        for id in CheckId::ALL {
            assert_eq!(
                serde_json::to_value(id).unwrap(),
                serde_json::Value::String(id.as_str().into())
            );
            let back: CheckId = serde_json::from_str(&format!("\"{id}\"")).unwrap();
            assert_eq!(back, id);
            assert_eq!(CheckId::ALL[id.index()], id);
            assert!(!id.title().is_empty());
        }
        assert!(serde_json::from_str::<CheckId>("\"docker.nope\"").is_err());
        let mut sorted = CheckId::PREFLIGHT;
        sorted.sort_by_key(|c| c.index());
        assert_eq!(
            sorted.map(CheckId::as_str),
            [
                "docker.endpoint",
                "docker.socket",
                "docker.daemon",
                "act.binary",
                "act.docker"
            ]
        );
    }
}
