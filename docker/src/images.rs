//! Images: one per system, built from the folders under `docker/images/`.
//!
//! A tag is `fencepost/<system>:<hash>`, the hash covering every file the
//! build reads (`common/` and the system's folder: names, modes, contents).
//! So `build` is a no-op when nothing changed, and any edit makes a new tag
//! instead of silently reusing a stale image.
//!
//! Builds run the `docker` CLI's classic builder with `--network host`: the
//! machines fencepost targets have no registry but do reach Debian's package
//! mirror, and the classic builder works on every engine version we meet.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;

use crate::engine::Engine;
use crate::error::{Context, Error, Result};

/// The base every image builds `FROM`.
pub const BASE_IMAGE: &str = "debian:bookworm-slim";

/// One file of `docker/images/`, embedded at compile time by `build.rs`.
pub(crate) struct EmbeddedFile {
    pub path: &'static str,
    pub contents: &'static [u8],
    pub executable: bool,
}

include!(concat!(env!("OUT_DIR"), "/image_files.rs"));

/// The folder every image shares (entrypoint, helpers); not an image itself.
const COMMON: &str = "common";

/// The systems that have an image folder, sorted.
pub fn systems() -> Vec<&'static str> {
    let mut names: Vec<&str> = IMAGE_FILES
        .iter()
        .filter_map(|f| f.path.split_once('/').map(|(dir, _)| dir))
        .filter(|dir| *dir != COMMON)
        .collect();
    names.dedup();
    names
}

fn files_of(system: &str) -> impl Iterator<Item = &'static EmbeddedFile> + '_ {
    IMAGE_FILES.iter().filter(move |f| {
        let dir = f.path.split_once('/').map_or("", |(dir, _)| dir);
        dir == COMMON || dir == system
    })
}

/// `fencepost/<system>:<16 hex digits>`.
pub fn tag(system: &str) -> Result<String> {
    if !systems().contains(&system) {
        return Err(Error::new(format!("no image folder for system `{system}` (known: {})", systems().join(", "))));
    }
    // FNV-1a, 64 bit: stable across Rust releases and platforms, unlike
    // std's hasher, and collisions only cost an unneeded rebuild.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for &b in bytes {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for file in files_of(system) {
        feed(file.path.as_bytes());
        feed(&[0, u8::from(file.executable)]);
        feed(&(file.contents.len() as u64).to_le_bytes());
        feed(file.contents);
    }
    Ok(format!("fencepost/{system}:{hash:016x}"))
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

/// Builds `system`'s image unless its tag exists (or `rebuild` is set).
pub async fn build(engine: &Engine, system: &str, rebuild: bool) -> Result<Built> {
    // One build at a time per process: callers that start clusters
    // concurrently (tests do) would otherwise build the same image, or
    // bootstrap the base, twice at once.
    static BUILDING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _one_at_a_time = BUILDING.lock().await;
    let tag = tag(system)?;
    let started = Instant::now();
    if !rebuild {
        if let Some(size) = image_size(engine, &tag).await {
            return Ok(Built {
                system: system.into(),
                tag,
                built: false,
                elapsed: started.elapsed(),
                size_bytes: size,
            });
        }
    }
    ensure_base(engine).await?;
    let context = write_context(system)?;
    let dockerfile = context.path().join(system).join("Dockerfile");
    let output = Command::new("docker")
        .env("DOCKER_BUILDKIT", "0")
        .args(["build", "--network", "host", "--label"])
        .arg(format!("fencepost.image={system}"))
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
            "building image {tag} from docker/images/{system}/Dockerfile failed ({}):\n{}",
            output.status,
            tail(&output.stdout, &output.stderr, 40)
        )));
    }
    let size = image_size(engine, &tag).await.unwrap_or(0);
    Ok(Built { system: system.into(), tag, built: true, elapsed: started.elapsed(), size_bytes: size })
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

fn write_context(system: &str) -> Result<TempDir> {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("fencepost-build")?;
    for file in files_of(system) {
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
    fn every_system_has_a_dockerfile_and_a_stable_tag() {
        let systems = systems();
        assert!(systems.contains(&"redis") && systems.contains(&"etcd"), "{systems:?}");
        for system in systems {
            assert!(files_of(system).any(|f| f.path == format!("{system}/Dockerfile")), "{system}");
            let t = tag(system).unwrap();
            assert_eq!(t, tag(system).unwrap());
            assert!(
                t.starts_with(&format!("fencepost/{system}:")) && t.len() == "fencepost/:".len() + system.len() + 16
            );
        }
        assert_ne!(tag("redis").unwrap(), tag("etcd").unwrap());
        assert!(tag("nosuch").unwrap_err().to_string().contains("no image folder for system `nosuch`"));
    }
}
