//! Where the worker binaries are found.
//!
//! Cargo puts every binary of the workspace in one directory (`target/debug/`,
//! `target/release/`), next to the server's own, and test binaries one level down in `deps/`.
//! So the search is: `$PREPAZKA_WORKER_DIR` (an installation that keeps them elsewhere), then
//! the directory of the running executable, then its parent. Nothing is looked up on `$PATH`:
//! a worker is part of this build, not whatever happens to be installed.

use std::path::{Path, PathBuf};

/// The environment variable naming a directory that holds the worker binaries.
pub const WORKER_DIR_ENV: &str = "PREPAZKA_WORKER_DIR";
/// The binary names, as Cargo builds them.
pub const ASR_WORKER: &str = "prepazka-asr-worker";
pub const MT_WORKER: &str = "prepazka-mt-worker";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("worker binary {name} not found (looked in: {}); build it with `cargo build --bins` or set {WORKER_DIR_ENV}", display_paths(.searched))]
pub struct WorkerNotFound {
    pub name: String,
    pub searched: Vec<PathBuf>,
}

fn display_paths(paths: &[PathBuf]) -> String {
    paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
}

/// Finds the worker binary called `name` (see the module documentation for the order).
pub fn locate_worker_binary(name: &str) -> Result<PathBuf, WorkerNotFound> {
    let env_dir = std::env::var_os(WORKER_DIR_ENV).map(PathBuf::from);
    let exe = std::env::current_exe().ok();
    locate_in(name, env_dir.as_deref(), exe.as_deref())
}

fn locate_in(name: &str, env_dir: Option<&Path>, exe: Option<&Path>) -> Result<PathBuf, WorkerNotFound> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    dirs.extend(env_dir.map(Path::to_path_buf));
    if let Some(exe_dir) = exe.and_then(Path::parent) {
        dirs.push(exe_dir.to_path_buf());
        dirs.extend(exe_dir.parent().map(Path::to_path_buf));
    }
    let searched: Vec<PathBuf> = dirs.into_iter().map(|d| d.join(name)).collect();
    searched.iter().find(|p| p.is_file()).cloned().ok_or_else(|| WorkerNotFound { name: name.to_owned(), searched })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn order_is_env_then_exe_dir_then_parent() {
        let root = std::env::temp_dir().join(format!("prepazka-locate-{}", std::process::id()));
        let deps = root.join("debug").join("deps");
        let env_dir = root.join("installed");
        fs::create_dir_all(&deps).expect("temp dirs");
        fs::create_dir_all(&env_dir).expect("temp dirs");
        let exe = deps.join("some-test-binary");

        let err = locate_in("w", Some(&env_dir), Some(&exe)).expect_err("nothing there yet");
        assert_eq!(err.searched, vec![env_dir.join("w"), deps.join("w"), root.join("debug").join("w")]);
        assert!(err.to_string().contains("cargo build"));

        fs::write(root.join("debug").join("w"), b"").expect("write");
        assert_eq!(locate_in("w", Some(&env_dir), Some(&exe)), Ok(root.join("debug").join("w")));
        fs::write(deps.join("w"), b"").expect("write");
        assert_eq!(locate_in("w", Some(&env_dir), Some(&exe)), Ok(deps.join("w")));
        fs::write(env_dir.join("w"), b"").expect("write");
        assert_eq!(locate_in("w", Some(&env_dir), Some(&exe)), Ok(env_dir.join("w")));
        assert_eq!(locate_in("w", None, Some(&exe)), Ok(deps.join("w")));

        fs::remove_dir_all(&root).expect("cleanup");
    }
}
