use std::io::Write;

use super::*;

/// A fresh directory under the system's temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        // Each test uses its own name; the process id keeps concurrent runs apart.
        let dir = std::env::temp_dir().join(alloc::format!("nn-idx-{name}-{}", std::process::id()));
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

/// `count` 2×2 images whose pixels are `0, 1, 2, ...`.
fn tiny_images(count: u32) -> Vec<u8> {
    let data: Vec<u8> = (0..count * 4).map(|i| (i * 17 % 256) as u8).collect();
    idx_bytes(IMAGES_MAGIC, &[count, 2, 2], &data)
}

#[test]
fn plain_and_gzipped_files_round_trip() {
    let dir = TempDir::new("round-trip");
    let bytes = tiny_images(3);
    let labels = idx_bytes(LABELS_MAGIC, &[3], &[2, 0, 1]);
    for gzipped in [false, true] {
        let (images_file, labels_file) = if gzipped {
            (
                write(&dir.path("images.gz"), &gzip(&bytes)),
                write(&dir.path("labels.gz"), &gzip(&labels)),
            )
        } else {
            (
                write(&dir.path("images"), &bytes),
                write(&dir.path("labels"), &labels),
            )
        };
        let images = read_images(&images_file).unwrap();
        assert_eq!((images.count(), images.rows(), images.cols()), (3, 2, 2));
        assert_eq!(images.pixels(), &bytes[16..]);
        assert_eq!(images.file(), images_file);
        let labels = read_labels(&labels_file).unwrap();
        assert_eq!(labels.labels, [2, 0, 1]);

        let data: Dataset<f32, 4, 3> = dataset(&images, &labels).unwrap();
        assert_eq!(data.len(), 3);
        for sample in 0..3 {
            for pixel in 0..4 {
                let raw = images.pixels()[sample * 4 + pixel];
                assert_eq!(data.inputs[(pixel, sample)], f32::from(raw) / 255.0);
            }
            for class in 0..3 {
                let hot = usize::from(labels.labels[sample]) == class;
                assert_eq!(data.targets[(class, sample)], f32::from(u8::from(hot)));
            }
        }
    }
}

#[test]
fn pixels_are_scaled_to_the_unit_interval() {
    let dir = TempDir::new("scale");
    let images = write(
        &dir.path("images"),
        &idx_bytes(IMAGES_MAGIC, &[1, 1, 2], &[0, 255]),
    );
    let labels = write(&dir.path("labels"), &idx_bytes(LABELS_MAGIC, &[1], &[0]));
    let data: Dataset<f64, 2, 1> =
        dataset(&read_images(images).unwrap(), &read_labels(labels).unwrap()).unwrap();
    assert_eq!(data.inputs.as_slice(), [0.0, 1.0]);
}

#[test]
fn wrong_magic_names_found_and_expected() {
    let dir = TempDir::new("magic");
    let labels = write(&dir.path("labels"), &idx_bytes(LABELS_MAGIC, &[1], &[0]));
    let error = read_images(&labels).unwrap_err();
    assert_eq!(
        error.to_string(),
        alloc::format!(
            "IDX file `{}`: magic number 0x00000801 (unsigned bytes, 1 dimension) but \
             expected 0x00000803 (unsigned bytes, 3 dimensions)",
            labels.display()
        )
    );
    let png = write(&dir.path("png"), b"\x89PNG\r\n\x1a\n");
    let error = read_labels(&png).unwrap_err();
    assert_eq!(
        error.to_string(),
        alloc::format!(
            "IDX file `{}`: magic number 0x89504e47 (not an IDX file) but expected \
             0x00000801 (unsigned bytes, 1 dimension)",
            png.display()
        )
    );
    assert!(matches!(
        error,
        IdxError::Magic {
            found: 0x8950_4e47,
            expected: LABELS_MAGIC,
            ..
        }
    ));
}

#[test]
fn truncated_data_says_expected_and_actual_bytes() {
    let dir = TempDir::new("truncated");
    let bytes = tiny_images(3);
    let cut = &bytes[..bytes.len() - 5];
    let plain = write(&dir.path("images"), cut);
    assert_eq!(
        read_images(&plain).unwrap_err().to_string(),
        alloc::format!(
            "IDX file `{}`: truncated: 23 bytes, but its header declares 3×2×2 items, \
             28 bytes with the header (5 missing)",
            plain.display()
        )
    );
    let gzipped = write(&dir.path("images.gz"), &gzip(cut));
    assert_eq!(
        read_images(&gzipped).unwrap_err().to_string(),
        alloc::format!(
            "IDX file `{}`: truncated: 23 bytes (decompressed), but its header declares \
             3×2×2 items, 28 bytes with the header (5 missing)",
            gzipped.display()
        )
    );
}

#[test]
fn truncated_header_says_expected_and_actual_bytes() {
    let dir = TempDir::new("header");
    let bytes = tiny_images(1);
    let cut = write(&dir.path("images"), &bytes[..10]);
    assert_eq!(
        read_images(&cut).unwrap_err().to_string(),
        alloc::format!(
            "IDX file `{}`: truncated: 10 bytes, but the header alone needs 16",
            cut.display()
        )
    );
    let empty = write(&dir.path("empty"), &[]);
    assert_eq!(
        read_labels(&empty).unwrap_err().to_string(),
        alloc::format!(
            "IDX file `{}`: truncated: 0 bytes, but the header alone needs 4",
            empty.display()
        )
    );
    let one = write(&dir.path("one"), &[0x1f]);
    assert_eq!(
        read_labels(&one).unwrap_err().to_string(),
        alloc::format!(
            "IDX file `{}`: truncated: 1 bytes, but the header alone needs 4",
            one.display()
        )
    );
}

#[test]
fn bytes_after_the_data_are_an_error() {
    let dir = TempDir::new("long");
    let labels = write(
        &dir.path("labels"),
        &idx_bytes(LABELS_MAGIC, &[2], &[1, 2, 3, 4]),
    );
    assert_eq!(
        read_labels(&labels).unwrap_err().to_string(),
        alloc::format!(
            "IDX file `{}`: 12 bytes, but its header declares 2 items, 10 bytes with the header (2 too many)",
            labels.display()
        )
    );
}

#[test]
fn a_header_over_the_limit_is_refused_before_reading() {
    let dir = TempDir::new("huge");
    let images = write(
        &dir.path("images"),
        &idx_bytes(IMAGES_MAGIC, &[u32::MAX, u32::MAX, u32::MAX], &[1, 2]),
    );
    let error = read_images(&images).unwrap_err();
    assert_eq!(
        error.to_string(),
        alloc::format!(
            "IDX file `{}`: its header declares 4294967295×4294967295×4294967295 items, \
             79228162458924105385300197375 bytes of data, over the 2147483648 bytes (2 GiB) \
             this reader takes; the header is corrupt or this is not an IDX file",
            images.display()
        )
    );
    assert_eq!(error.file(), images);
    // One byte over the limit is refused; the limit itself is read (and here, truncated).
    let over = write(
        &dir.path("over"),
        &idx_bytes(LABELS_MAGIC, &[(1 << 31) + 1], &[1, 2]),
    );
    assert!(matches!(
        read_labels(&over).unwrap_err(),
        IdxError::TooLarge { declared, .. } if declared == u128::from(MAX_PAYLOAD) + 1
    ));
    let at = write(
        &dir.path("at"),
        &idx_bytes(LABELS_MAGIC, &[1 << 31], &[1, 2]),
    );
    assert_eq!(
        read_labels(&at).unwrap_err().to_string(),
        alloc::format!(
            "IDX file `{}`: truncated: 10 bytes, but its header declares 2147483648 items, \
             2147483656 bytes with the header (2147483646 missing)",
            at.display()
        )
    );
}

#[test]
fn the_buffer_grows_with_the_data_not_the_header() {
    // A header declaring the most there may be, and 100 bytes: a small first chunk only.
    let declared = MAX_PAYLOAD as usize;
    let data = read_payload(&mut &[7u8; 100][..], declared).unwrap();
    assert_eq!(data, [7; 100]);
    assert!(data.capacity() <= READ_CHUNK, "{}", data.capacity());
    // A megabyte: the buffer at most doubles past what has arrived.
    let big = alloc::vec![1u8; 1 << 20];
    let data = read_payload(&mut &big[..], declared).unwrap();
    assert_eq!(data.len(), 1 << 20);
    assert!(data.capacity() <= 2 << 20, "{}", data.capacity());
    // Exactly the declared size: never more capacity than that.
    let data = read_payload(&mut &big[..], 300_000).unwrap();
    assert_eq!((data.len(), data.capacity()), (300_000, 300_000));
}

#[test]
fn images_must_hold_count_rows_cols_pixels() {
    let error = Images::new("hand-made", 3, 2, 2, alloc::vec![0; 10]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "images `hand-made`: 3 images of 2×2 need 12 pixels but 10 were given"
    );
    let huge = Images::new("huge", usize::MAX, 2, 2, Vec::new()).unwrap_err();
    assert!(matches!(huge, IdxError::PixelCount { pixels: 0, .. }));
    let images = Images::new("ok", 1, 1, 2, alloc::vec![0, 255]).unwrap();
    let labels = Labels {
        file: "labels".into(),
        labels: alloc::vec![1],
    };
    let data: Dataset<f64, 2, 2> = dataset(&images, &labels).unwrap();
    assert_eq!(data.inputs.as_slice(), [0.0, 1.0]);
}

#[test]
fn corrupt_gzip_is_reported() {
    let dir = TempDir::new("gzip");
    let compressed = gzip(&tiny_images(40));
    let cut = write(&dir.path("cut.gz"), &compressed[..compressed.len() / 2]);
    let error = read_images(&cut).unwrap_err();
    assert!(matches!(error, IdxError::Gzip { .. }), "{error}");
    assert!(
        error.to_string().starts_with(&alloc::format!(
            "IDX file `{}`: invalid gzip data: ",
            cut.display()
        )),
        "{error}"
    );
    let garbage = write(&dir.path("garbage.gz"), &[0x1f, 0x8b, 0, 0, 0, 0]);
    let error = read_images(&garbage).unwrap_err();
    assert!(matches!(error, IdxError::Gzip { .. }), "{error}");
    // Bytes after the gzip stream are not silently dropped.
    let mut trailing = gzip(&tiny_images(2));
    trailing.extend_from_slice(b"junk");
    let trailing = write(&dir.path("trailing.gz"), &trailing);
    let error = read_images(&trailing).unwrap_err();
    assert!(matches!(error, IdxError::Gzip { .. }), "{error}");
    // Two gzip members are one stream, as for gunzip.
    let bytes = tiny_images(2);
    let mut members = gzip(&bytes[..10]);
    members.extend(gzip(&bytes[10..]));
    let members = write(&dir.path("members.gz"), &members);
    assert_eq!(read_images(&members).unwrap().pixels(), &bytes[16..]);
}

#[test]
fn images_of_the_wrong_size_are_named() {
    let dir = TempDir::new("dims");
    let images = write(&dir.path("images"), &tiny_images(1));
    let labels = write(&dir.path("labels"), &idx_bytes(LABELS_MAGIC, &[1], &[0]));
    let (images, labels) = (read_images(images).unwrap(), read_labels(labels).unwrap());
    let error = dataset::<f32, 784, 10>(&images, &labels).unwrap_err();
    assert_eq!(
        error.to_string(),
        alloc::format!(
            "IDX file `{}`: images are 2×2 (4 pixels) but 784 pixels per image are \
             expected (28×28)",
            images.file().display()
        )
    );
    let error = dataset::<f32, 5, 10>(&images, &labels).unwrap_err();
    assert_eq!(
        error.to_string(),
        alloc::format!(
            "IDX file `{}`: images are 2×2 (4 pixels) but 5 pixels per image are expected",
            images.file().display()
        )
    );
}

#[test]
fn image_and_label_counts_must_agree() {
    let dir = TempDir::new("counts");
    let images = write(&dir.path("images"), &tiny_images(3));
    let labels = write(&dir.path("labels"), &idx_bytes(LABELS_MAGIC, &[2], &[0, 1]));
    let error = dataset::<f32, 4, 10>(
        &read_images(&images).unwrap(),
        &read_labels(&labels).unwrap(),
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        alloc::format!(
            "images file `{}` has 3 images but labels file `{}` has 2 labels",
            images.display(),
            labels.display()
        )
    );
}

#[test]
fn labels_must_be_below_the_class_count() {
    let dir = TempDir::new("label");
    let images = write(&dir.path("images"), &tiny_images(3));
    let labels = write(
        &dir.path("labels"),
        &idx_bytes(LABELS_MAGIC, &[3], &[9, 10, 255]),
    );
    let error = dataset::<f32, 4, 10>(
        &read_images(&images).unwrap(),
        &read_labels(&labels).unwrap(),
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        alloc::format!(
            "IDX file `{}`: label 10 of sample 1 is out of range for 10 classes (labels 0..10)",
            labels.display()
        )
    );
}

#[test]
fn unreadable_file_is_named() {
    let dir = TempDir::new("unreadable");
    let missing = dir.path("nothing");
    let error = read_images(&missing).unwrap_err();
    assert!(matches!(error, IdxError::Read { .. }));
    assert!(
        error.to_string().starts_with(&alloc::format!(
            "cannot read IDX file `{}`: ",
            missing.display()
        )),
        "{error}"
    );
}
