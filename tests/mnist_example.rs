//! The `mnist` example without MNIST: its usage message and its errors for a directory without
//! the files. The data is not in the repository (nor on CI); with `NN_MNIST_DIR` set to a
//! directory that holds it, one more (ignored) test checks that it loads:
//! `NN_MNIST_DIR=path/to/mnist cargo test --test mnist_example -- --ignored`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The example's binary, built once (in this test's profile) by the cargo running the tests.
fn example() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let mut cargo = Command::new(env!("CARGO"));
        cargo
            .args([
                "build",
                "--quiet",
                "--example",
                "mnist",
                "--message-format=json",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        // The tests' own binary lives in `<target>/<profile>/deps`.
        let exe = std::env::current_exe().expect("the test binary's path");
        if exe
            .parent()
            .and_then(Path::parent)
            .and_then(Path::file_name)
            == Some("release".as_ref())
        {
            cargo.arg("--release");
        }
        let output = cargo.output().expect("cargo runs");
        assert!(
            output.status.success(),
            "cargo build --example mnist failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|message| message["target"]["name"] == "mnist")
            .find_map(|message| message["executable"].as_str().map(PathBuf::from))
            .expect("cargo names the example's executable")
    })
}

fn run(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(example())
        .args(args)
        .output()
        .expect("the example runs")
}

/// A fresh, empty directory, removed on drop.
struct EmptyDir(PathBuf);

impl EmptyDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("nn-mnist-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("creates the directory");
        EmptyDir(dir)
    }
}

impl Drop for EmptyDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn without_arguments_it_prints_the_usage_and_exits_with_2() {
    let output = run(&[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("error: missing the MNIST directory\nusage: mnist <dir>"),
        "{stderr}"
    );
    assert!(stderr.contains("train-images-idx3-ubyte"), "{stderr}");
}

#[test]
fn an_empty_directory_is_a_missing_file_error() {
    let dir = EmptyDir::new("empty");
    let output = run(&[dir.0.as_os_str()]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let file = dir.0.join("train-images-idx3-ubyte");
    assert_eq!(
        stderr,
        format!(
            "error: missing MNIST file `{0}` (or `{0}.gz`); the directory must hold \
             train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and \
             t10k-labels-idx1-ubyte, each plain or gzipped (`.gz`)\n",
            file.display()
        )
    );
}

#[test]
fn a_bad_option_prints_the_usage() {
    let output = run(&["dir".as_ref(), "--threads".as_ref(), "two".as_ref()]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("error: --threads: `two` is not a number\nusage: mnist <dir>"),
        "{stderr}"
    );
}

/// The files load with MNIST's counts. Needs the full data, which neither the repository nor
/// CI has: run it with `NN_MNIST_DIR=path/to/mnist cargo test --test mnist_example -- --ignored`.
#[test]
#[ignore = "needs the MNIST files: set NN_MNIST_DIR and pass --ignored"]
fn the_mnist_directory_loads_when_given() {
    let dir = std::env::var_os("NN_MNIST_DIR")
        .expect("NN_MNIST_DIR names the directory that holds MNIST's four files");
    let mnist = nn::mnist::load(&dir).expect("loads");
    assert_eq!((mnist.train.len(), mnist.test.len()), (60_000, 10_000));
    let mut counts = [0usize; 10];
    for label in mnist.test.labels() {
        counts[label] += 1;
    }
    // The test set's digits, as LeCun's page lists them.
    assert_eq!(
        counts,
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    );
}
