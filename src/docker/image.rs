//! Images built locally, without any registry: `docker import` of a tar stream that holds
//! only the act binary and a world-writable `/tmp`.
//!
//! The tar is produced on a blocking thread and streamed to the daemon in chunks, so the
//! binary is never held whole in memory. An image is reused when its label records the
//! same binary SHA-256. What can go wrong: the binary is unreadable, the daemon refuses the
//! import; both come back as one-line errors.

use std::path::{Path, PathBuf};

use bollard::Docker;
use bollard::query_parameters::CreateImageOptionsBuilder;
use bytes::Bytes;
use futures_util::StreamExt;

/// The label that records the SHA-256 of the act binary inside the image.
pub const SHA_LABEL: &str = "io.actsim.act-sha256";

/// Where the binary lives inside the image.
pub const ACT_IN_IMAGE: &str = "/usr/local/bin/act";

/// Why an image could not be inspected or built.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The daemon refused a request about an image ([`super::client::describe`]'s line).
    #[error("{reason}")]
    Daemon { image: String, reason: String },
    #[error("docker import of {image} failed: {reason}")]
    Import { image: String, reason: String },
    #[error("reading {}: {source}", .binary.display())]
    Read {
        binary: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("streaming the image tar: {0}")]
    Stream(#[source] std::io::Error),
    #[error("building the image tar failed: {0}")]
    Producer(String),
}

/// The message, for callers that keep errors as text.
impl From<ImageError> for String {
    fn from(e: ImageError) -> String {
        e.to_string()
    }
}

/// The SHA-256 recorded on an existing image, `None` when the image is absent.
pub async fn image_sha(docker: &Docker, image: &str) -> Result<Option<String>, ImageError> {
    match docker.inspect_image(image).await {
        Ok(info) => Ok(Some(
            info.config
                .and_then(|c| c.labels)
                .and_then(|l| l.get(SHA_LABEL).cloned())
                .unwrap_or_default(),
        )),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(None),
        Err(e) => Err(ImageError::Daemon {
            image: image.to_string(),
            reason: super::client::describe(&e),
        }),
    }
}

/// Whether `image` exists at all.
pub async fn exists(docker: &Docker, image: &str) -> Result<bool, ImageError> {
    Ok(image_sha(docker, image).await?.is_some())
}

/// `docker import` a minimal image holding `binary` at [`ACT_IN_IMAGE`] and `/tmp` (1777),
/// tagged `image` (`repo:tag`), labelled with `sha256`. On Podman `image` must carry its
/// `localhost/` prefix ([`super::engine::Engine::local_image`]) to be found again.
///
/// `binary` is an open regular file (opened by whoever may read it, see
/// [`crate::system::privsep::Fs::open`]); `shown` names it in messages.
pub async fn import_act_image(
    docker: &Docker,
    engine: super::engine::Engine,
    binary: std::fs::File,
    shown: &Path,
    sha256: &str,
    image: &str,
) -> Result<(), ImageError> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let shown = shown.to_path_buf();
    let producer = tokio::task::spawn_blocking(move || write_tar(binary, &shown, tx));
    let body = tokio_stream_from(rx);
    let mut changes = vec![format!("LABEL {SHA_LABEL}={sha256}")];
    // Podman gets the label only (see `splits_import_changes`); what the other lines set,
    // the probe containers and the compose service set themselves (command, HOME, working
    // directory), and Podman's default PATH holds /usr/local/bin.
    if engine.splits_import_changes() {
        changes.extend([
            "ENV PATH=/usr/local/bin".to_string(),
            "ENV HOME=/tmp".to_string(),
            "WORKDIR /tmp".to_string(),
            "CMD [\"act\", \"--version\"]".to_string(),
        ]);
    }
    let options = CreateImageOptionsBuilder::default()
        .from_src("-")
        // The whole reference as `repo` (the API allows a tag in it): Podman ignores a
        // separate `tag` on import and would store `<repo>:latest`.
        .repo(image)
        .changes(changes)
        .build();
    let mut stream = docker.create_image(Some(options), Some(bollard::body_try_stream(body)), None);
    let mut result = Ok(());
    while let Some(item) = stream.next().await {
        if let Err(e) = item {
            result = Err(ImageError::Import {
                image: image.to_string(),
                reason: super::client::describe(&e),
            });
            break;
        }
    }
    match producer.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e),
        Err(e) => return Err(ImageError::Producer(e.to_string())),
    }
    result
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// A `Write` that sends chunks of 256 KiB down a channel.
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
    buf: Vec<u8>,
}

impl ChannelWriter {
    const CHUNK: usize = 256 * 1024;

    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buf,
            Vec::with_capacity(Self::CHUNK),
        ));
        self.tx.blocking_send(Ok(chunk)).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::BrokenPipe, "daemon closed the import")
        })
    }
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= Self::CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

fn write_tar(
    mut file: std::fs::File,
    binary: &Path,
    tx: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
) -> Result<(), ImageError> {
    use std::io::{Read, Seek};
    let mut writer = ChannelWriter {
        tx,
        buf: Vec::with_capacity(ChannelWriter::CHUNK),
    };
    let read = |source| ImageError::Read {
        binary: binary.to_path_buf(),
        source,
    };
    file.rewind().map_err(read)?;
    let len = file.metadata().map_err(read)?.len();
    let mut builder = tar::Builder::new(&mut writer);
    let dir = |path: &str, mode: u32| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_path(path).expect("static path");
        h.set_mode(mode);
        h.set_size(0);
        h.set_mtime(0);
        h.set_cksum();
        h
    };
    let io = ImageError::Stream;
    for (path, mode) in [
        ("tmp/", 0o1777),
        ("usr/", 0o755),
        ("usr/local/", 0o755),
        ("usr/local/bin/", 0o755),
    ] {
        let h = dir(path, mode);
        builder.append(&h, std::io::empty()).map_err(io)?;
    }
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_path(ACT_IN_IMAGE.trim_start_matches('/'))
        .map_err(io)?;
    h.set_mode(0o755);
    h.set_size(len);
    h.set_mtime(0);
    h.set_cksum();
    // Exactly the announced length, even if the file grows meanwhile.
    builder
        .append(&h, std::io::BufReader::new(file.take(len)))
        .map_err(io)?;
    builder.finish().map_err(io)?;
    drop(builder);
    std::io::Write::flush(&mut writer).map_err(io)
}
