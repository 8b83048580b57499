use bollard::Docker;

use crate::error::{Error, Result};

/// A connection to the local Docker engine.
///
/// Cheap to clone. The API version is negotiated because the engines we meet
/// range from Debian's 20.10 (API 1.41) to current ones, and bollard asks for
/// a newer API than old engines accept.
#[derive(Clone, Debug)]
pub struct Engine {
    pub(crate) docker: Docker,
}

impl Engine {
    pub async fn connect() -> Result<Engine> {
        let hint =
            "cannot reach the Docker engine (is dockerd running? `bash scripts/setup.sh` installs and starts it)";
        let docker = Docker::connect_with_local_defaults().map_err(|e| Error::with(hint, e))?;
        let docker = docker.negotiate_version().await.map_err(|e| Error::with(hint, e))?;
        docker.ping().await.map_err(|e| Error::with(hint, e))?;
        Ok(Engine { docker })
    }

    /// The raw bollard client, for operations this crate does not wrap.
    pub fn bollard(&self) -> &Docker {
        &self.docker
    }
}
