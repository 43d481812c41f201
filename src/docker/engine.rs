//! Which engine serves the Docker API at an endpoint: Docker Engine or Podman (its API
//! service, `podman system service`). Told from the daemon's `/version` document: Podman
//! names itself in `Components` ("Podman Engine") and in `Platform.Name`.
//!
//! The engine decides how a locally built image is named so that the same engine finds it
//! again: Podman qualifies a short name like `actsim/act:0.2.89` as
//! `docker.io/actsim/act:0.2.89` when a container is created through its Docker API, while
//! an image imported under that name is stored as `localhost/actsim/act:0.2.89`; so on
//! Podman the name carries `localhost/` from the start. Nothing here can fail: an engine
//! that names itself neither way is taken for Docker Engine.

use bollard::models::SystemVersion;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Engine {
    #[default]
    Docker,
    Podman,
}

impl Engine {
    /// From the daemon's `/version` answer.
    pub fn from_version(v: &SystemVersion) -> Engine {
        let platform = v
            .platform
            .as_ref()
            .map(|p| p.name.as_str())
            .unwrap_or_default();
        let podman_component = v
            .components
            .as_ref()
            .is_some_and(|c| c.iter().any(|c| is_podman(&c.name)));
        if podman_component || is_podman(platform) {
            Engine::Podman
        } else {
            Engine::Docker
        }
    }

    /// "Docker Engine" or "Podman", for summaries.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Docker => "Docker Engine",
            Engine::Podman => "Podman",
        }
    }

    /// `image` (a short `repo:tag` actsim builds locally) as this engine finds it again:
    /// unchanged on Docker, `localhost/<image>` on Podman.
    pub fn local_image(self, image: &str) -> String {
        match self {
            Engine::Docker => image.to_string(),
            Engine::Podman if image.starts_with("localhost/") => image.to_string(),
            Engine::Podman => format!("localhost/{image}"),
        }
    }

    /// The engine a name made by [`Engine::local_image`] was made for.
    pub fn of_local_image(image: &str) -> Engine {
        if image.starts_with("localhost/") {
            Engine::Podman
        } else {
            Engine::Docker
        }
    }

    /// Whether `docker import` honours several `changes` (Dockerfile instructions). bollard
    /// sends them as one newline-joined value, which Docker Engine splits; Podman 4 takes it
    /// as one instruction (a `LABEL` would swallow the lines after it).
    pub fn splits_import_changes(self) -> bool {
        self == Engine::Docker
    }
}

fn is_podman(name: &str) -> bool {
    name.to_ascii_lowercase().contains("podman")
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{SystemVersionComponents, SystemVersionPlatform};

    fn version(platform: &str, components: &[&str]) -> SystemVersion {
        SystemVersion {
            platform: Some(SystemVersionPlatform {
                name: platform.to_string(),
            }),
            components: Some(
                components
                    .iter()
                    .map(|n| SystemVersionComponents {
                        name: n.to_string(),
                        version: "1".into(),
                        details: None,
                    })
                    .collect(),
            ),
            ..Default::default()
        }
    }

    #[test]
    fn podman_is_told_from_its_components_or_platform() {
        // What Debian's podman 4.3.1 and docker.io 20.10 answer.
        assert_eq!(
            Engine::from_version(&version(
                "linux/amd64/debian-12",
                &["Podman Engine", "Conmon", "OCI Runtime (runc)"]
            )),
            Engine::Podman
        );
        assert_eq!(
            Engine::from_version(&version("", &["Engine", "containerd", "runc"])),
            Engine::Docker
        );
        assert_eq!(
            Engine::from_version(&version("Docker Engine - Community", &["Engine"])),
            Engine::Docker
        );
        assert_eq!(
            Engine::from_version(&version("Podman Desktop", &[])),
            Engine::Podman
        );
        assert_eq!(
            Engine::from_version(&SystemVersion::default()),
            Engine::Docker
        );
    }

    #[test]
    fn podman_images_are_named_under_localhost() {
        assert_eq!(
            Engine::Docker.local_image("actsim/act:0.2.89"),
            "actsim/act:0.2.89"
        );
        assert_eq!(
            Engine::Podman.local_image("actsim/act:0.2.89"),
            "localhost/actsim/act:0.2.89"
        );
        assert_eq!(
            Engine::Podman.local_image("localhost/actsim/act:0.2.89"),
            "localhost/actsim/act:0.2.89"
        );
    }
}
