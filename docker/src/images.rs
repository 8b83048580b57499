//! Images: one per system, built from the folders under `docker/images/`.
//!
//! `common/` is the base every system's image starts `FROM`: its Dockerfile
//! installs the nemesis's tools, the clock shim and the entrypoint, and is
//! tagged `fencepost/common:<hash of common/>`. A system's folder holds a
//! Dockerfile that starts `ARG BASE` / `FROM ${BASE}` (the base's tag is
//! passed in), installs its server and copies its own scripts; its tag is
//! `fencepost/<system>:<hash>`, the hash covering the base's tag and every
//! file of the folder (names, modes, contents), so a change in `common/`
//! rebuilds every system. So `build` is a no-op when nothing changed, and any
//! edit makes a new tag instead of reusing a stale image.
//!
//! Builds run the `docker` CLI's classic builder with `--network host`: the
//! machines fencepost targets have no registry but do reach Debian's package
//! mirror, and the classic builder works on every engine version we meet.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use crate::engine::Engine;
use crate::error::{Context, Error, Result};

/// The Debian image the common base builds `FROM`.
pub const BASE_IMAGE: &str = "debian:bookworm-slim";

/// One file of `docker/images/`, embedded at compile time by `build.rs`.
pub(crate) struct EmbeddedFile {
    pub path: &'static str,
    pub contents: &'static [u8],
    pub executable: bool,
}

include!(concat!(env!("OUT_DIR"), "/image_files.rs"));

/// The folder of the base every system's image starts `FROM` (tools, clock
/// shim, entrypoint); an image, but not a system's.
pub const COMMON: &str = "common";

/// The image folders other than the base, sorted: every system's, and
/// `sshhost` (the SSH test hosts of `up --ssh-hosts`).
pub fn systems() -> Vec<&'static str> {
    let mut names: Vec<&str> = IMAGE_FILES
        .iter()
        .filter_map(|f| f.path.split_once('/').map(|(dir, _)| dir))
        .filter(|dir| *dir != COMMON)
        .collect();
    names.dedup();
    names
}

/// An embedded file of `docker/images/` by its path there
/// (`etcd/role`, `common/fptime.c`): SSH hosts get the same node tools.
pub fn file(path: &str) -> Option<&'static [u8]> {
    IMAGE_FILES.iter().find(|f| f.path == path).map(|f| f.contents)
}

/// The files of one image folder (`common` or a system's).
fn files_of(folder: &str) -> impl Iterator<Item = &'static EmbeddedFile> + '_ {
    IMAGE_FILES.iter().filter(move |f| f.path.split_once('/').is_some_and(|(dir, _)| dir == folder))
}

/// How many hex digits of the SHA-256 a tag carries (128 bits).
const TAG_HEX_DIGITS: usize = 32;

/// A content hash of `files`, after `prefix`. It must be collision-resistant,
/// not merely well spread: two different contents with the same tag would
/// silently run the image built from the other one. Hence SHA-256 (stable
/// across Rust releases and platforms, unlike std's hasher), with each field
/// length-prefixed so that no two file lists feed the same bytes.
fn content_hash(prefix: &str, files: impl Iterator<Item = &'static EmbeddedFile>) -> String {
    let mut hash = Sha256::new();
    let mut feed = |bytes: &[u8]| {
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(bytes);
    };
    feed(prefix.as_bytes());
    for file in files {
        feed(file.path.as_bytes());
        feed(&[u8::from(file.executable)]);
        feed(file.contents);
    }
    let digest = hash.finalize();
    digest.iter().take(TAG_HEX_DIGITS / 2).map(|b| format!("{b:02x}")).collect()
}

/// `fencepost/common:<32 hex digits>`: the base, by the contents of `common/`.
pub fn common_tag() -> String {
    format!("fencepost/{COMMON}:{}", content_hash("", files_of(COMMON)))
}

/// `fencepost/<system>:<32 hex digits>`, over the base's tag and the
/// system's folder.
pub fn tag(system: &str) -> Result<String> {
    if !systems().contains(&system) {
        return Err(Error::new(format!("no image folder for system `{system}` (known: {})", systems().join(", "))));
    }
    Ok(format!("fencepost/{system}:{}", content_hash(&common_tag(), files_of(system))))
}

/// What `build` did.
#[derive(Debug, Clone)]
pub struct Built {
    pub system: String,
    pub tag: String,
    /// False when the tag already existed and nothing was built.
    pub built: bool,
    pub elapsed: Duration,
    /// Image size as the engine reports it.
    pub size_bytes: u64,
}

/// One build at a time per process: callers that start clusters
/// concurrently (tests do) would otherwise build the same image, or
/// bootstrap the base, twice at once.
static BUILDING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Builds `system`'s image unless its tag exists (or `rebuild` is set),
/// building the common base first when it is missing.
pub async fn build(engine: &Engine, system: &str, rebuild: bool) -> Result<Built> {
    let _one_at_a_time = BUILDING.lock().await;
    let tag = tag(system)?;
    let started = Instant::now();
    if !rebuild {
        if let Some(built) = existing(engine, system, &tag, started).await {
            return Ok(built);
        }
    }
    let base = build_folder(engine, COMMON, common_tag(), false, &[]).await?;
    build_folder(engine, system, tag, true, &[("BASE", &base.tag)])
        .await
        .map(|b| Built { elapsed: started.elapsed(), ..b })
}

/// Builds the common base unless its tag exists (or `rebuild` is set).
pub async fn build_common(engine: &Engine, rebuild: bool) -> Result<Built> {
    let _one_at_a_time = BUILDING.lock().await;
    build_folder(engine, COMMON, common_tag(), rebuild, &[]).await
}

async fn existing(engine: &Engine, folder: &str, tag: &str, started: Instant) -> Option<Built> {
    let size = image_size(engine, tag).await?;
    Some(Built { system: folder.into(), tag: tag.into(), built: false, elapsed: started.elapsed(), size_bytes: size })
}

/// `docker build` of one folder's Dockerfile, with only that folder in the
/// context, unless `tag` exists and `rebuild` is not set.
async fn build_folder(
    engine: &Engine,
    folder: &str,
    tag: String,
    rebuild: bool,
    build_args: &[(&str, &str)],
) -> Result<Built> {
    let started = Instant::now();
    if !rebuild {
        if let Some(built) = existing(engine, folder, &tag, started).await {
            return Ok(built);
        }
    }
    if folder == COMMON {
        ensure_base(engine).await?;
    }
    let context = write_context(folder)?;
    let dockerfile = context.path().join(folder).join("Dockerfile");
    let mut command = Command::new("docker");
    command.env("DOCKER_BUILDKIT", "0").args(["build", "--network", "host", "--label"]);
    command.arg(format!("fencepost.image={folder}"));
    for (name, value) in build_args {
        command.arg("--build-arg").arg(format!("{name}={value}"));
    }
    let output = command
        .arg("-t")
        .arg(&tag)
        .arg("-f")
        .arg(&dockerfile)
        .arg(context.path())
        .stdin(Stdio::null())
        .output()
        .context(|| "running `docker build` (is the docker CLI installed?)")?;
    if !output.status.success() {
        return Err(Error::new(format!(
            "building image {tag} from docker/images/{folder}/Dockerfile failed ({}):\n{}",
            output.status,
            tail(&output.stdout, &output.stderr, 40)
        )));
    }
    let size = image_size(engine, &tag).await.unwrap_or(0);
    Ok(Built { system: folder.into(), tag, built: true, elapsed: started.elapsed(), size_bytes: size })
}

async fn image_size(engine: &Engine, name: &str) -> Option<u64> {
    let image = engine.docker.inspect_image(name).await.ok()?;
    Some(image.size.unwrap_or(0).max(0) as u64)
}

/// A temporary directory holding the build context; removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(prefix: &str) -> Result<TempDir> {
        let path = std::env::temp_dir().join(format!("{prefix}-{}", crate::new_run_id()));
        std::fs::create_dir_all(&path).context(|| format!("creating {}", path.display()))?;
        Ok(TempDir(path))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn write_context(folder: &str) -> Result<TempDir> {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("fencepost-build")?;
    for file in files_of(folder) {
        let path = dir.path().join(file.path);
        let parent = path.parent().expect("embedded paths have a folder");
        std::fs::create_dir_all(parent).context(|| format!("creating {}", parent.display()))?;
        std::fs::write(&path, file.contents).context(|| format!("writing {}", path.display()))?;
        let mode = if file.executable { 0o755 } else { 0o644 };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
            .context(|| format!("setting the mode of {}", path.display()))?;
    }
    Ok(dir)
}

/// How the base image came to be there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base {
    Present,
    Pulled,
    Bootstrapped,
}

/// Makes sure `debian:bookworm-slim` exists: present, else pulled, else made
/// with `debootstrap --variant=minbase bookworm` and `docker import`.
pub async fn ensure_base(engine: &Engine) -> Result<Base> {
    if engine.docker.inspect_image(BASE_IMAGE).await.is_ok() {
        return Ok(Base::Present);
    }
    if pull(engine, BASE_IMAGE).await.is_ok() && engine.docker.inspect_image(BASE_IMAGE).await.is_ok() {
        return Ok(Base::Pulled);
    }
    bootstrap_base()?;
    Ok(Base::Bootstrapped)
}

async fn pull(engine: &Engine, image: &str) -> Result<()> {
    let (name, tag) = image.split_once(':').unwrap_or((image, "latest"));
    let options = bollard::query_parameters::CreateImageOptions {
        from_image: Some(name.to_string()),
        tag: Some(tag.to_string()),
        ..Default::default()
    };
    let pulling = async {
        let mut stream = engine.docker.create_image(Some(options), None, None);
        while let Some(item) = stream.next().await {
            item.context(|| format!("pulling {image}"))?;
        }
        Ok(())
    };
    // An engine without a registry fails at once on DNS; the timeout guards
    // against one that hangs on a half-open network instead.
    tokio::time::timeout(Duration::from_secs(60), pulling)
        .await
        .map_err(|_| Error::new(format!("pulling {image} timed out")))?
}

/// The Debian mirror debootstrap and apt use; overridable for local mirrors.
fn mirror() -> String {
    std::env::var("FENCEPOST_DEBIAN_MIRROR").unwrap_or_else(|_| "http://deb.debian.org/debian".into())
}

fn bootstrap_base() -> Result<()> {
    let root = TempDir::new("fencepost-rootfs")?;
    let rootfs = root.path().join("rootfs");
    let mirror = mirror();
    let status = Command::new("debootstrap")
        .args(["--variant=minbase", "bookworm"])
        .arg(&rootfs)
        .arg(&mirror)
        .stdin(Stdio::null())
        .output()
        .context(|| "running debootstrap (install it with `apt-get install debootstrap`; it needs root)")?;
    if !status.status.success() {
        return Err(Error::new(format!(
            "debootstrap --variant=minbase bookworm from {mirror} failed ({}):\n{}",
            status.status,
            tail(&status.stdout, &status.stderr, 20)
        )));
    }
    slim_down(&rootfs, &mirror)?;
    // tar | docker import, wired process to process: no shell, no temp file.
    let mut tar = Command::new("tar")
        .arg("-C")
        .arg(&rootfs)
        .args(["--numeric-owner", "-c", "."])
        .stdout(Stdio::piped())
        .spawn()
        .context(|| "running tar")?;
    let tar_out = tar.stdout.take().expect("piped");
    let import = Command::new("docker")
        .args(["import", "-c", "CMD [\"bash\"]", "-", BASE_IMAGE])
        .stdin(Stdio::from(tar_out))
        .output()
        .context(|| "running `docker import`")?;
    let tar_status = tar.wait().context(|| "waiting for tar")?;
    if !tar_status.success() || !import.status.success() {
        return Err(Error::new(format!(
            "importing the bootstrapped rootfs as {BASE_IMAGE} failed (tar {tar_status}, docker import {}):\n{}",
            import.status,
            tail(&import.stdout, &import.stderr, 20)
        )));
    }
    Ok(())
}

/// Makes the debootstrapped tree look like Debian's own slim image: apt
/// sources for updates and security, no cached packages or lists, and dpkg
/// told to skip docs, man pages and locales in the images built on it.
fn slim_down(rootfs: &Path, mirror: &str) -> Result<()> {
    let write = |rel: &str, contents: String| {
        let path = rootfs.join(rel);
        std::fs::create_dir_all(path.parent().expect("has a parent")).context(|| format!("creating {rel}"))?;
        std::fs::write(&path, contents).context(|| format!("writing {}", path.display()))
    };
    let security = mirror.trim_end_matches('/').trim_end_matches("/debian").to_string() + "/debian-security";
    write(
        "etc/apt/sources.list",
        format!(
            "deb {mirror} bookworm main\ndeb {mirror} bookworm-updates main\ndeb {security} bookworm-security main\n"
        ),
    )?;
    write(
        "etc/dpkg/dpkg.cfg.d/fencepost-slim",
        "path-exclude /usr/share/doc/*\npath-exclude /usr/share/man/*\npath-exclude /usr/share/locale/*\n\
         path-exclude /usr/share/info/*\n"
            .into(),
    )?;
    write("etc/apt/apt.conf.d/fencepost-slim", "APT::Install-Recommends \"false\";\n".into())?;
    for dir in ["var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man", "usr/share/locale"] {
        let path = rootfs.join(dir);
        if let Ok(entries) = std::fs::read_dir(&path) {
            for entry in entries.flatten() {
                let p = entry.path();
                let _ = if p.is_dir() { std::fs::remove_dir_all(&p) } else { std::fs::remove_file(&p) };
            }
        }
    }
    Ok(())
}

fn tail(stdout: &[u8], stderr: &[u8], lines: usize) -> String {
    let text = format!("{}{}", String::from_utf8_lossy(stdout), String::from_utf8_lossy(stderr));
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_system_has_a_dockerfile_from_the_base_and_a_stable_tag() {
        let systems = systems();
        assert!(systems.contains(&"redis") && systems.contains(&"etcd") && !systems.contains(&COMMON), "{systems:?}");
        for system in systems {
            let dockerfile = files_of(system).find(|f| f.path == format!("{system}/Dockerfile")).expect(system);
            let text = std::str::from_utf8(dockerfile.contents).unwrap();
            assert!(text.contains("ARG BASE\nFROM ${BASE}\n"), "{system}/Dockerfile must start FROM the base");
            let t = tag(system).unwrap();
            assert_eq!(t, tag(system).unwrap());
            let hash = t.strip_prefix(&format!("fencepost/{system}:")).unwrap();
            assert!(hash.len() == TAG_HEX_DIGITS && hash.bytes().all(|b| b.is_ascii_hexdigit()), "{t}");
        }
        assert!(files_of(COMMON).any(|f| f.path == "common/Dockerfile"));
        assert!(common_tag().starts_with("fencepost/common:"));
        assert_ne!(tag("redis").unwrap(), tag("etcd").unwrap());
        assert!(tag("nosuch").unwrap_err().to_string().contains("no image folder for system `nosuch`"));
    }

    #[test]
    fn a_system_tag_covers_the_base() {
        let redis = || files_of("redis");
        assert_eq!(content_hash("fencepost/common:a", redis()), content_hash("fencepost/common:a", redis()));
        assert_ne!(content_hash("fencepost/common:a", redis()), content_hash("fencepost/common:b", redis()));
        // Length prefixes: moving bytes between fields changes the hash.
        static AB: EmbeddedFile = EmbeddedFile { path: "x/ab", contents: b"c", executable: false };
        static A: EmbeddedFile = EmbeddedFile { path: "x/a", contents: b"bc", executable: false };
        assert_ne!(content_hash("", std::iter::once(&AB)), content_hash("", std::iter::once(&A)));
    }
}
