use std::io::Write;

use super::*;
use nn_runtime::idx::{IMAGES_MAGIC, LABELS_MAGIC};

/// A fresh directory under the system's temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        // Each test uses its own name; the process id keeps concurrent runs apart.
        let dir = std::env::temp_dir().join(format!("nn-mnist-lib-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn idx_bytes(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut bytes = magic.to_be_bytes().to_vec();
    for d in dims {
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes.extend_from_slice(data);
    bytes
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn write(path: &Path, bytes: &[u8]) -> PathBuf {
    std::fs::write(path, bytes).unwrap();
    path.to_path_buf()
}

/// Writes MNIST's four files with `train` and `test` samples of 28×28, some gzipped.
fn write_mnist(dir: &TempDir, train: u32, test: u32) {
    let images = |count: u32| {
        let data: Vec<u8> = (0..count as usize * PIXELS)
            .map(|i| (i % 256) as u8)
            .collect();
        idx_bytes(IMAGES_MAGIC, &[count, 28, 28], &data)
    };
    let labels = |count: u32| {
        let data: Vec<u8> = (0..count).map(|i| (i % 10) as u8).collect();
        idx_bytes(LABELS_MAGIC, &[count], &data)
    };
    write(
        &dir.path("train-images-idx3-ubyte.gz"),
        &gzip(&images(train)),
    );
    write(&dir.path("train-labels-idx1-ubyte"), &labels(train));
    write(&dir.path("t10k-images-idx3-ubyte"), &images(test));
    write(&dir.path("t10k-labels-idx1-ubyte.gz"), &gzip(&labels(test)));
}

#[test]
fn mnist_directory_loads_plain_and_gzipped_files() {
    let dir = TempDir::new("mnist");
    write_mnist(&dir, 12, 5);
    let mnist = load(&dir.0).unwrap();
    assert_eq!((mnist.train.len(), mnist.test.len()), (12, 5));
    assert_eq!(mnist.train.inputs[(255, 0)], 1.0);
    assert_eq!(mnist.train.inputs[(0, 1)], 16.0 / 255.0);
    assert_eq!(mnist.test.targets.column(4).iamax(), 4);
    assert_eq!(mnist.train.targets.column(11).iamax(), 1);
    assert_eq!(mnist.train.targets.sum(), 12.0);
}

#[test]
fn missing_mnist_file_names_the_path_and_the_expected_names() {
    let dir = TempDir::new("missing");
    write_mnist(&dir, 2, 1);
    std::fs::remove_file(dir.path("t10k-images-idx3-ubyte")).unwrap();
    let error = load(&dir.0).unwrap_err();
    let expected = dir.path("t10k-images-idx3-ubyte");
    assert_eq!(
        error.to_string(),
        format!(
            "missing MNIST file `{0}` (or `{0}.gz`); the directory must hold \
             train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and \
             t10k-labels-idx1-ubyte, each plain or gzipped (`.gz`)",
            expected.display()
        )
    );
    assert_eq!(error.file(), expected);
}

#[test]
fn missing_mnist_directory_is_named() {
    let dir = TempDir::new("no-dir");
    let absent = dir.path("absent");
    assert_eq!(
        load(&absent).unwrap_err().to_string(),
        format!(
            "MNIST directory `{}` does not exist or is not a directory; it must hold \
             train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and \
             t10k-labels-idx1-ubyte, each plain or gzipped (`.gz`)",
            absent.display()
        )
    );
}

#[test]
fn mnist_errors_name_the_bad_file() {
    let dir = TempDir::new("mnist-bad");
    write_mnist(&dir, 3, 2);
    let labels = dir.path("train-labels-idx1-ubyte");
    write(&labels, &idx_bytes(LABELS_MAGIC, &[3], &[0, 1, 12]));
    let error = load(&dir.0).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "IDX file `{}`: label 12 of sample 2 is out of range for 10 classes (labels 0..10)",
            labels.display()
        )
    );
}
