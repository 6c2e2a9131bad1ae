//! Row-major (the file's, PyTorch's) and column-major (nalgebra's) order of a tensor's bytes.

/// A tensor's bytes in nalgebra's column-major order, from the file's row-major `bytes`:
/// element `(r, c)` of a `[rows, cols]` matrix of `width`-byte scalars moves from position
/// `r * cols + c` to `c * rows + r`. Any other rank (a vector) is the same in both orders and
/// is copied as is.
///
/// `bytes` is `shape.iter().product() * width` long (a parsed [`File`](crate::File)'s tensors
/// are); extra bytes are dropped.
///
/// # Examples
///
/// ```
/// // Rows (1, 2, 3) and (4, 5, 6) become columns (1, 4), (2, 5), (3, 6).
/// let column_major = nn_format::to_column_major(&[2, 3], &[1, 2, 3, 4, 5, 6], 1);
/// assert_eq!(column_major, [1, 4, 2, 5, 3, 6]);
/// ```
pub fn to_column_major(shape: &[usize], bytes: &[u8], width: usize) -> Vec<u8> {
    match *shape {
        [rows, cols] => transpose(bytes, rows, cols, width),
        _ => bytes.to_vec(),
    }
}

/// A tensor's bytes in the file's row-major order, from nalgebra's column-major `bytes`; the
/// inverse of [`to_column_major`].
///
/// # Examples
///
/// ```
/// let row_major = nn_format::to_row_major(&[2, 3], &[1, 4, 2, 5, 3, 6], 1);
/// assert_eq!(row_major, [1, 2, 3, 4, 5, 6]);
/// ```
pub fn to_row_major(shape: &[usize], bytes: &[u8], width: usize) -> Vec<u8> {
    match *shape {
        // Column-major `[rows, cols]` is row-major `[cols, rows]`.
        [rows, cols] => transpose(bytes, cols, rows, width),
        _ => bytes.to_vec(),
    }
}

/// The row-major `[rows, cols]` matrix of `width`-byte scalars `row_major`, transposed: element
/// `(r, c)` moves from scalar position `r * cols + c` to `c * rows + r`.
fn transpose(row_major: &[u8], rows: usize, cols: usize, width: usize) -> Vec<u8> {
    let len = rows * cols * width;
    let mut transposed = vec![0; len];
    if width == 0 || cols == 0 {
        return transposed;
    }
    for (k, scalar) in row_major[..len.min(row_major.len())]
        .chunks_exact(width)
        .enumerate()
    {
        let (r, c) = (k / cols, k % cols);
        let at = (c * rows + r) * width;
        transposed[at..at + width].copy_from_slice(scalar);
    }
    transposed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_major_and_back_is_the_identity() {
        let row_major: Vec<u8> = (0..24).collect();
        // [2, 3] of 4-byte scalars: scalar (r, c) is bytes 4 (3r + c) ..
        let column_major = to_column_major(&[2, 3], &row_major, 4);
        let scalar = |bytes: &[u8], k: usize| bytes[4 * k..4 * k + 4].to_vec();
        for (r, c) in [(0, 0), (0, 2), (1, 0), (1, 2)] {
            assert_eq!(
                scalar(&column_major, c * 2 + r),
                scalar(&row_major, r * 3 + c)
            );
        }
        assert_eq!(to_row_major(&[2, 3], &column_major, 4), row_major);
        assert_eq!(to_column_major(&[6], &row_major, 4), row_major);
        assert_eq!(to_row_major(&[0, 3], &[], 4), Vec::<u8>::new());
    }
}
