//! Tests of datasets, splits and standardization.

use super::*;

#[test]
fn rows_are_checked_and_named() {
    let ok = [[1.0f32, 2.0], [3.0, 4.0]];
    assert!(Dataset::<f32, 2, 3>::classification(&ok, &[0, 2]).is_ok());
    let wide = [vec![1.0f32, 2.0], vec![1.0, 2.0, 3.0]];
    let err = Dataset::<f32, 2, 3>::classification(&wide, &[0, 1]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "row 1 has 3 features, but the network takes 2"
    );
    let nan = [[1.0f32, 2.0], [f32::NAN, 4.0]];
    let err = Dataset::<f32, 2, 3>::classification(&nan, &[0, 1]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "row 1 has a NaN or infinite feature in column 0"
    );
    let err = Dataset::<f32, 2, 3>::classification(&ok, &[0, 3]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "row 1 has label 3, but the network has 3 classes (labels 0..3)"
    );
    let err = Dataset::<f32, 2, 1>::regression(&ok, &[[1.0f32], [f32::INFINITY]]).unwrap_err();
    assert_eq!(
        err,
        DataError::NotFinite {
            row: 1,
            column: 0,
            target: true
        }
    );
    let err = Dataset::<f32, 2, 3>::classification(&ok, &[0]).unwrap_err();
    assert_eq!(err.to_string(), "2 rows of features but 1 rows of targets");
}

#[test]
fn one_output_takes_binary_labels() {
    let rows = [[1.0f32], [2.0], [3.0]];
    let data = Dataset::<f32, 1, 1>::classification(&rows, &[0, 1, 1]).unwrap();
    assert_eq!(data.targets.as_slice(), &[0.0, 1.0, 1.0]);
    assert_eq!(data.labels(), [0, 1, 1]);
    let err = Dataset::<f32, 1, 1>::classification(&rows, &[0, 2, 1]).unwrap_err();
    assert_eq!(err, DataError::NotBinary { row: 1, label: 2 });
    assert_eq!(
        err.to_string(),
        "row 1 has label 2, but a network with 1 output takes the binary labels 0 and 1; \
         for more classes give the network one output per class and `softmax_cross_entropy`"
    );
    // Soft targets read back as labels by thresholding at ½.
    let soft = Dataset::<f32, 1, 1>::regression(&rows, &[[0.2f32], [0.7], [0.5]]).unwrap();
    assert_eq!(soft.labels(), [0, 1, 0]);
}

#[test]
fn split_is_seeded_and_complete() {
    let rows: Vec<[f64; 1]> = (0..10).map(|i| [i as f64]).collect();
    let labels: Vec<usize> = (0..10).map(|i| i % 2).collect();
    let data = Dataset::<f64, 1, 2>::classification(&rows, &labels).unwrap();
    let (a, b) = data.split(0.7, 3).unwrap();
    assert_eq!((a.len(), b.len()), (7, 3));
    assert_eq!(data.split(0.7, 3).unwrap().0, a);
    let mut all: Vec<f64> = a.inputs.iter().chain(b.inputs.iter()).copied().collect();
    all.sort_by(f64::total_cmp);
    assert_eq!(all, (0..10).map(f64::from).collect::<Vec<_>>());
}

#[test]
fn standardizer_gives_zero_mean_unit_variance() {
    let mut x = Batch::<f64, 2>::from_column_slice(&[1.0, 5.0, 2.0, 5.0, 3.0, 5.0]);
    let s = Standardizer::fit(&x);
    s.apply(&mut x);
    assert!((x.row(0).sum()).abs() < 1e-12);
    assert!((x.row(0).map(|v| v * v).sum() / 3.0 - 1.0).abs() < 1e-12);
    assert_eq!(x.row(1).sum(), 0.0, "a constant feature is only centred");
}

#[test]
fn folding_into_a_layer_equals_standardizing_first() {
    let x = Batch::<f64, 2>::from_column_slice(&[1.0, 5.0, 2.0, 5.0, 4.0, 5.0]);
    let s = Standardizer::fit(&x);
    let mut layer = crate::Dense::<f64, 2, 3> {
        weight: nalgebra::SMatrix::<f64, 3, 2>::new(0.5, -1.0, 2.0, 0.25, -0.5, 1.5),
        bias: nalgebra::SVector::<f64, 3>::new(0.1, 0.2, 0.3),
    };
    let sample = nalgebra::SVector::<f64, 2>::new(3.0, 5.0);
    let expected = layer.weight * s.apply_one(&sample) + layer.bias;
    s.fold_into(&mut layer);
    assert!((layer.weight * sample + layer.bias - expected).amax() < 1e-12);
}
