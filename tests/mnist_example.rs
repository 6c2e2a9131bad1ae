//! The `mnist` and `mnist_cnn` examples without MNIST: their usage messages and their errors for
//! a directory without the files (both read it through `nn::mnist`). The data is not in the
//! repository (nor on CI); with `NN_MNIST_DIR` set to a directory that holds it, one more
//! (ignored) test checks that it loads:
//! `NN_MNIST_DIR=path/to/mnist cargo test --test mnist_example -- --ignored`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The examples this file runs.
const EXAMPLES: [&str; 2] = ["mnist", "mnist_cnn"];

/// The example `name`'s binary, built once (in this test's profile) by the cargo running the
/// tests.
fn example(name: &str) -> &'static Path {
    static BINARIES: [OnceLock<PathBuf>; EXAMPLES.len()] =
        [const { OnceLock::new() }; EXAMPLES.len()];
    let index = EXAMPLES
        .iter()
        .position(|&example| example == name)
        .expect("one of EXAMPLES");
    BINARIES[index].get_or_init(|| {
        let mut cargo = Command::new(env!("CARGO"));
        cargo
            .args([
                "build",
                "--quiet",
                "--example",
                name,
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
            "cargo build --example {name} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|message| message["target"]["name"] == name)
            .find_map(|message| message["executable"].as_str().map(PathBuf::from))
            .expect("cargo names the example's executable")
    })
}

fn run(name: &str, args: &[&std::ffi::OsStr]) -> Output {
    Command::new(example(name))
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
    for name in EXAMPLES {
        let output = run(name, &[]);
        assert_eq!(output.status.code(), Some(2), "{name}");
        assert!(output.stdout.is_empty(), "{name}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let start = format!("error: missing the MNIST directory\nusage: {name} <dir>");
        assert!(stderr.starts_with(&start), "{stderr}");
        assert!(stderr.contains("train-images-idx3-ubyte"), "{stderr}");
    }
}

#[test]
fn an_empty_directory_is_a_missing_file_error() {
    for name in EXAMPLES {
        let dir = EmptyDir::new(name);
        let output = run(name, &[dir.0.as_os_str()]);
        assert_eq!(output.status.code(), Some(1), "{name}");
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
}

#[test]
fn a_bad_option_prints_the_usage() {
    for name in EXAMPLES {
        let output = run(
            name,
            &["dir".as_ref(), "--threads".as_ref(), "two".as_ref()],
        );
        assert_eq!(output.status.code(), Some(2), "{name}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let start = format!("error: --threads: `two` is not a number\nusage: {name} <dir>");
        assert!(stderr.starts_with(&start), "{stderr}");
    }
}

/// Writes a tiny MNIST-shaped directory: `train` and `test` 28×28 images in the four IDX files
/// (plain), each image a bright square whose position gives its label.
fn write_tiny_mnist(dir: &Path, train: usize, test: usize) {
    let write = |name: &str, count: usize, first: usize| {
        let (mut images, mut labels) = (Vec::new(), Vec::new());
        images.extend(0x0803u32.to_be_bytes());
        images.extend((count as u32).to_be_bytes());
        images.extend(28u32.to_be_bytes());
        images.extend(28u32.to_be_bytes());
        labels.extend(0x0801u32.to_be_bytes());
        labels.extend((count as u32).to_be_bytes());
        for i in first..first + count {
            let label = i % 10;
            let mut image = [0u8; 28 * 28];
            for row in 2 * label..2 * label + 6 {
                for column in 4 + label..12 + label {
                    image[row * 28 + column] = 255;
                }
            }
            images.extend(image);
            labels.push(label as u8);
        }
        std::fs::write(dir.join(format!("{name}-images-idx3-ubyte")), images).expect("writes");
        std::fs::write(dir.join(format!("{name}-labels-idx1-ubyte")), labels).expect("writes");
    };
    write("train", train, 0);
    write("t10k", test, train);
}

/// `mnist_cnn` end to end on a tiny directory in MNIST's format: it reads the IDX files as
/// `[1, 28, 28]` images, trains an epoch, evaluates, reports and writes its weights (under the
/// directory it runs in).
#[test]
fn mnist_cnn_trains_on_a_tiny_idx_directory() {
    let dir = EmptyDir::new("tiny");
    write_tiny_mnist(&dir.0, 40, 10);
    let output = Command::new(example("mnist_cnn"))
        .args([dir.0.as_os_str(), "--epochs".as_ref(), "1".as_ref()])
        .current_dir(&dir.0)
        .output()
        .expect("the example runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.starts_with("mnist_cnn: 40 training and 10 test images from"),
        "{stdout}"
    );
    assert!(stdout.contains("18378 parameters"), "{stdout}");
    assert!(stdout.contains("\ntest accuracy: "), "{stdout}");
    let weights = std::fs::read(dir.0.join("target/mnist/mnist_cnn.safetensors")).expect("written");
    let header = String::from_utf8_lossy(&weights[..weights.len().min(4096)]);
    for tensor in ["c1.weight", "c2.bias", "out.weight"] {
        assert!(header.contains(tensor), "{tensor} missing from {header}");
    }
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
