//! Getting data in (CSV files, plain rows, stratified splits, standardization) and scoring
//! networks (predicted classes, confusion matrix, per-class scores, regression scores).

use std::io::Write;

use nn_runtime::Batch;
use nn_runtime::Parameters;
use nn_runtime::data::{Csv, Dataset, Standardizer};
use nn_runtime::metrics::{self, ConfusionMatrix, MetricsError, Regression};
use nn_runtime::nalgebra::{SMatrix, SVector};

/// Scores are ratios of small counts computed in f64: equal to the exact fraction up to a few
/// ulps.
const EXACT: f64 = 1e-12;

// ---------------------------------------------------------------------------------------------
// CSV

#[test]
fn csv_label_by_name_or_index_with_or_without_header() {
    let with_header = "x,label,y\n0.5,1,2\n1.5,0,-1\n\n-2,2,3e1\n";
    let by_name =
        Dataset::<f64, 2, 3>::parse_csv("a.csv", with_header.as_bytes(), &Csv::label("label"))
            .expect("reads");
    assert_eq!(by_name.labels(), [1, 0, 2]);
    assert_eq!(
        by_name.inputs.as_slice(),
        &[0.5, 2.0, 1.5, -1.0, -2.0, 30.0]
    );
    let by_index =
        Dataset::<f64, 2, 3>::parse_csv("a.csv", with_header.as_bytes(), &Csv::label(1)).unwrap();
    assert_eq!(by_index, by_name);
    let no_header = "0.5\t1\t2\n1.5\t0\t-1\n-2\t2.0\t30\n";
    let plain = Csv::label(1).header(false).delimiter(b'\t');
    let without = Dataset::<f64, 2, 3>::parse_csv("b.tsv", no_header.as_bytes(), &plain).unwrap();
    assert_eq!(without, by_name);
}

#[test]
fn csv_files_plain_and_gzipped_read_the_same() {
    let dir = std::env::temp_dir().join(format!("nn-data-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = b"a,b,target\n1,2,0.5\n3,4,-1.25\n";
    let plain = dir.join("r.csv");
    std::fs::write(&plain, text).unwrap();
    let gz = dir.join("r.csv.gz");
    let mut encoder = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::default(),
    );
    encoder.write_all(text).unwrap();
    encoder.finish().unwrap();
    let csv = Csv::label("target");
    let a = Dataset::<f32, 2, 1>::read_csv_regression(&plain, &csv).expect("plain");
    let b = Dataset::<f32, 2, 1>::read_csv_regression(&gz, &csv).expect("gzipped");
    assert_eq!(a, b);
    assert_eq!(a.targets.as_slice(), &[0.5, -1.25]);
    assert_eq!(a.inputs.as_slice(), &[1.0, 2.0, 3.0, 4.0]);
    let missing = dir.join("absent.csv");
    let err = Dataset::<f32, 2, 1>::read_csv_regression(&missing, &csv).unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("CSV file `{}`: ", missing.display())),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The message of reading `text` as a 2-feature, 3-class CSV named `d.csv`.
fn csv_error(text: &str, csv: &Csv) -> String {
    Dataset::<f32, 2, 3>::parse_csv("d.csv", text.as_bytes(), csv)
        .unwrap_err()
        .to_string()
}

#[test]
fn csv_errors_name_the_file_the_line_and_the_column() {
    let label = Csv::label("label");
    assert_eq!(
        csv_error("x,y,label\n1,2,0\n1,2,3,0\n", &label),
        "CSV file `d.csv` line 3 has 4 columns, but 3 are needed: 2 features for the network \
         and the label"
    );
    assert_eq!(
        csv_error("x,y,label\n1,2,0\n1,two,1\n", &label),
        "CSV file `d.csv` line 3 column 1 (`y`): `two` is not a number"
    );
    // Blank lines are skipped but counted, as an editor counts them.
    assert_eq!(
        csv_error("x,y,label\n1,2,0\n\n1,two,1\n", &label),
        "CSV file `d.csv` line 4 column 1 (`y`): `two` is not a number"
    );
    assert_eq!(
        csv_error("x,y,label\r\n1,2,0\r\n\r\n\r\n1,2,x\r\n", &label),
        "CSV file `d.csv` line 5 column 2 (`label`): `x` is not a number"
    );
    assert_eq!(
        csv_error("1,2,0\n1,2,\n", &Csv::label(2).header(false)),
        "CSV file `d.csv` line 2 column 2: the label is missing; every row needs one"
    );
    assert_eq!(
        csv_error("x,y,class\n1,2,0\n", &label),
        "CSV file `d.csv` has no column named `label` for the label; its columns are `x`, `y`, `class`"
    );
    assert_eq!(
        csv_error("1,2,0\n", &Csv::label("label").header(false)),
        "CSV file `d.csv` has no column named `label` for the label (the file is read without \
         a header: give the column's index instead)"
    );
    assert_eq!(
        csv_error("x,y,label\n1,2,0\n", &Csv::label(3)),
        "CSV file `d.csv`: the label is column 3, but a line has only 3 columns (numbered from \
         0): the network's inputs and the label"
    );
    assert_eq!(
        csv_error("x,y,label\n1,2,0\n1,2,1.5\n", &label),
        "CSV file `d.csv` line 3 column 2 (`label`): label `1.5` is not a class index (0, 1, 2, …)"
    );
    assert_eq!(
        csv_error("x,y,label\n1,2,0\n3,4,1\n1,2,7\n", &label),
        "CSV file `d.csv` line 4: row 2 has label 7, but the network has 3 classes (labels 0..3)"
    );
    assert_eq!(
        csv_error("x,y,label\n1,NaN,0\n", &label),
        "CSV file `d.csv` line 2: row 0 has a NaN or infinite feature in column 1"
    );
    assert_eq!(
        csv_error("x,y,label\n1,2,0\n\"1,2,0\n", &label),
        "CSV file `d.csv` line 3 has 1 columns, but 3 are needed: 2 features for the network and \
         the label"
    );
}

#[test]
fn plain_rows_of_vectors_and_arrays_make_the_same_dataset() {
    let arrays = [[1.0f32, 2.0], [3.0, 4.0]];
    let vectors = vec![vec![1.0f32, 2.0], vec![3.0, 4.0]];
    let a = Dataset::<f32, 2, 2>::classification(&arrays, &[0, 1]).unwrap();
    let b = Dataset::<f32, 2, 2>::classification(&vectors, &[0, 1]).unwrap();
    assert_eq!(a, b);
    let c =
        Dataset::<f32, 2, 2>::parse_csv("c.csv", b"1,2,0\n3,4,1\n", &Csv::label(2).header(false))
            .unwrap();
    assert_eq!(a, c);
}

// ---------------------------------------------------------------------------------------------
// Stratified split

/// `counts[c]`: samples of class `c` in `data`.
fn class_counts<const OUT: usize>(data: &Dataset<f64, 1, OUT>, classes: usize) -> Vec<usize> {
    let mut counts = vec![0; classes];
    for label in data.labels() {
        counts[label] += 1;
    }
    counts
}

#[test]
fn stratified_split_keeps_each_class_share() {
    // Unbalanced classes: 50, 30, 13, 7 samples.
    let sizes = [50usize, 30, 13, 7];
    let labels: Vec<usize> = sizes
        .iter()
        .enumerate()
        .flat_map(|(c, &n)| vec![c; n])
        .collect();
    let rows: Vec<[f64; 1]> = (0..labels.len()).map(|i| [i as f64]).collect();
    let data = Dataset::<f64, 1, 4>::classification(&rows, &labels).unwrap();
    for fraction in [0.0, 0.1, 0.2, 0.25, 0.33, 0.5, 0.77, 1.0] {
        for seed in 0..4 {
            let (first, rest) = data.split_stratified(fraction, seed).unwrap();
            assert_eq!(first.len(), (100.0 * fraction).round() as usize);
            assert_eq!(first.len() + rest.len(), 100);
            let counts = class_counts(&first, 4);
            for (class, (&got, &n)) in counts.iter().zip(&sizes).enumerate() {
                let exact = n as f64 * fraction;
                assert!(
                    (got as f64 - exact).abs() < 1.0,
                    "fraction {fraction} seed {seed}: class {class} has {got}, exact share {exact}"
                );
            }
            // Every sample lands in exactly one part.
            let mut all: Vec<f64> = first
                .inputs
                .iter()
                .chain(rest.inputs.iter())
                .copied()
                .collect();
            all.sort_by(f64::total_cmp);
            assert_eq!(all, (0..100).map(f64::from).collect::<Vec<_>>());
        }
    }
    // The seed decides, and decides the same way every time.
    assert_eq!(
        data.split_stratified(0.3, 9).unwrap(),
        data.split_stratified(0.3, 9).unwrap()
    );
    assert_ne!(
        data.split_stratified(0.3, 9).unwrap().0,
        data.split_stratified(0.3, 10).unwrap().0
    );
}

#[test]
fn stratified_split_of_a_binary_dataset_and_its_errors() {
    let labels: Vec<usize> = (0..20).map(|i| usize::from(i < 4)).collect();
    let rows: Vec<[f64; 1]> = (0..20).map(|i| [i as f64]).collect();
    let data = Dataset::<f64, 1, 1>::classification(&rows, &labels).unwrap();
    let (test, train) = data.split_stratified(0.25, 1).unwrap();
    assert_eq!(class_counts(&test, 2), [4, 1]);
    assert_eq!(class_counts(&train, 2), [12, 3]);
    for fraction in [f64::NAN, -0.1, 1.5] {
        let plain = data.split(fraction, 0).unwrap_err().to_string();
        let stratified = data.split_stratified(fraction, 0).unwrap_err().to_string();
        assert_eq!(
            stratified,
            plain.replace("Dataset::split", "Dataset::split_stratified")
        );
    }
    assert_eq!(
        data.split_stratified(1.5, 0).unwrap_err().to_string(),
        "`fraction` of `Dataset::split_stratified` is 1.5; use a number in [0, 1]"
    );
}

// ---------------------------------------------------------------------------------------------
// Standardizer call shapes

#[test]
fn standardizer_fits_and_applies_to_a_dataset_or_its_inputs() {
    let rows = [[1.0f64, 4.0], [2.0, 4.0], [6.0, 4.0]];
    let data = Dataset::<f64, 2, 2>::classification(&rows, &[0, 1, 1]).unwrap();
    let from_dataset = Standardizer::fit(&data);
    let from_inputs = Standardizer::fit(&data.inputs);
    assert_eq!(from_dataset, from_inputs);
    assert_eq!(from_dataset.mean, SVector::<f64, 2>::new(3.0, 4.0));
    // Population standard deviation: sqrt((4 + 1 + 9) / 3).
    assert!((from_dataset.std[0] - (14.0f64 / 3.0).sqrt()).abs() < EXACT);
    let mut a = data.clone();
    a.standardize(&from_dataset);
    let mut b = data.clone();
    from_dataset.apply(&mut b);
    let mut c = data.inputs.clone();
    from_dataset.apply(&mut c);
    assert_eq!(a, b);
    assert_eq!(a.inputs, c);
    assert!((a.inputs[(0, 2)] - 3.0 / (14.0f64 / 3.0).sqrt()).abs() < EXACT);
    assert_eq!(
        a.inputs.row(1).iter().copied().collect::<Vec<_>>(),
        [0.0; 3]
    );
}

// ---------------------------------------------------------------------------------------------
// Predicted classes

nn_runtime::network! {
    /// Three logits: the identity of the two inputs and their sum minus 10.
    struct Three { input: 2, out: dense(3), loss: softmax_cross_entropy }
}

nn_runtime::network! {
    /// One logit: the first input minus the second.
    struct Binary { input: 2, out: dense(1), loss: binary_cross_entropy }
}

nn_runtime::network! {
    /// A linear regressor of two outputs.
    struct Linear2 { input: 2, out: dense(2), loss: mse }
}

fn three() -> Three<f64> {
    let mut net = Three::<f64>::zeros();
    net.out.weight = SMatrix::<f64, 3, 2>::new(1.0, 0.0, 0.0, 1.0, 1.0, 1.0);
    net.out.bias = SVector::<f64, 3>::new(0.0, 0.0, -10.0);
    net
}

#[test]
fn predicted_class_is_the_argmax_of_the_logits() {
    let net = three();
    assert_eq!(
        metrics::predict_class(&net, &SVector::<f64, 2>::new(2.0, 1.0)),
        0
    );
    assert_eq!(
        metrics::predict_class(&net, &SVector::<f64, 2>::new(1.0, 2.0)),
        1
    );
    assert_eq!(
        metrics::predict_class(&net, &SVector::<f64, 2>::new(12.0, 11.0)),
        2
    );
    let batch = Batch::<f64, 2>::from_column_slice(&[2.0, 1.0, 1.0, 2.0, 12.0, 11.0, -1.0, -3.0]);
    assert_eq!(metrics::predict_classes(&net, &batch), [0, 1, 2, 0]);
    assert!(metrics::predict_classes(&net, &Batch::<f64, 2>::zeros(0)).is_empty());
}

#[test]
fn predicted_class_of_one_output_thresholds_the_probability_at_one_half() {
    let mut net = Binary::<f64>::zeros();
    net.out.weight = SMatrix::<f64, 1, 2>::new(1.0, -1.0);
    // Logit 0 is probability exactly ½: not above it, so class 0 (as `Dataset::labels`).
    let batch = Batch::<f64, 2>::from_column_slice(&[2.0, 1.0, 1.0, 2.0, 1.0, 1.0, 1.0, 0.999]);
    assert_eq!(metrics::predict_classes(&net, &batch), [1, 0, 0, 1]);
    assert_eq!(
        metrics::predict_class(&net, &SVector::<f64, 2>::new(0.5, 0.0)),
        1
    );
    let rows = [[2.0, 1.0], [1.0, 2.0], [0.0, 1.0]];
    let data = Dataset::<f64, 2, 1>::classification(&rows, &[1, 1, 0]).unwrap();
    let matrix = ConfusionMatrix::of(&net, &data).unwrap();
    assert_eq!(matrix.classes(), 2);
    assert_eq!(
        (matrix.count(1, 1), matrix.count(1, 0), matrix.count(0, 0)),
        (1, 1, 1)
    );
}

// ---------------------------------------------------------------------------------------------
// Confusion matrix and per-class scores

/// A fixed 3-class case; every expected value below is computed by hand from the matrix
/// (rows = truth, columns = prediction) and is what scikit-learn's `confusion_matrix`,
/// `precision_recall_fscore_support` and `accuracy_score` give for these lists:
///
/// ```text
/// [[3 0 0]
///  [1 1 1]
///  [0 2 2]]
/// ```
const TRUTH: [usize; 10] = [0, 1, 2, 0, 1, 2, 0, 1, 2, 2];
const PREDICTED: [usize; 10] = [0, 2, 1, 0, 0, 1, 0, 1, 2, 2];

#[test]
fn confusion_matrix_scores_match_the_hand_computed_values() {
    let m = ConfusionMatrix::new(3, &TRUTH, &PREDICTED).unwrap();
    let rows: Vec<Vec<usize>> = (0..3)
        .map(|t| (0..3).map(|p| m.count(t, p)).collect())
        .collect();
    assert_eq!(rows, [[3, 0, 0], [1, 1, 1], [0, 2, 2]]);
    assert_eq!(
        (m.total(), m.support(0), m.support(1), m.support(2)),
        (10, 3, 3, 4)
    );
    let close = |a: f64, b: f64| assert!((a - b).abs() < EXACT, "{a} != {b}");
    close(m.accuracy(), 0.6);
    // Precision: column sums 4, 3, 3.
    close(m.precision(0), 3.0 / 4.0);
    close(m.precision(1), 1.0 / 3.0);
    close(m.precision(2), 2.0 / 3.0);
    // Recall: row sums 3, 3, 4.
    close(m.recall(0), 1.0);
    close(m.recall(1), 1.0 / 3.0);
    close(m.recall(2), 1.0 / 2.0);
    // F1 = 2PR / (P + R).
    close(m.f1(0), 6.0 / 7.0);
    close(m.f1(1), 1.0 / 3.0);
    close(m.f1(2), 4.0 / 7.0);
    // Macro averages: unweighted means over the classes (sklearn average="macro").
    close(m.macro_precision(), 7.0 / 12.0);
    close(m.macro_recall(), 11.0 / 18.0);
    close(m.macro_f1(), 37.0 / 63.0);
}

#[test]
fn confusion_matrix_displays_as_a_table() {
    let m = ConfusionMatrix::new(3, &TRUTH, &PREDICTED).unwrap();
    assert_eq!(
        m.to_string(),
        "true\\pred 0 1 2\n        0 3 0 0\n        1 1 1 1\n        2 0 2 2"
    );
    let wide = ConfusionMatrix::new(2, &[0; 12], &[1; 12]).unwrap();
    assert_eq!(
        wide.to_string(),
        "true\\pred  0  1\n        0  0 12\n        1  0  0"
    );
}

#[test]
fn report_lists_the_per_class_scores_as_classification_report() {
    let m = ConfusionMatrix::new(3, &TRUTH, &PREDICTED).unwrap();
    assert_eq!(
        m.report().to_string(),
        "\
class     precision  recall     f1  support
0             0.750   1.000  0.857        3
1             0.333   0.333  0.333        3
2             0.667   0.500  0.571        4
macro avg     0.583   0.611  0.587       10
accuracy                     0.600       10"
    );
}

#[test]
fn undefined_ratios_are_zero_and_bad_lists_are_errors() {
    // Class 2 is never predicted and never true: precision, recall and F1 are 0, not NaN.
    let m = ConfusionMatrix::new(3, &[0, 1], &[0, 1]).unwrap();
    assert_eq!((m.precision(2), m.recall(2), m.f1(2)), (0.0, 0.0, 0.0));
    assert_eq!(
        ConfusionMatrix::new(3, &[0, 1], &[0])
            .unwrap_err()
            .to_string(),
        "2 true labels but 1 predictions; give one prediction per label"
    );
    assert_eq!(
        ConfusionMatrix::new(3, &[0, 1], &[0, 3])
            .unwrap_err()
            .to_string(),
        "prediction 1 is class 3, but the matrix has 3 classes (0..3)"
    );
    assert_eq!(
        ConfusionMatrix::new(3, &[5], &[0]).unwrap_err(),
        MetricsError::ClassOutOfRange {
            index: 0,
            class: 5,
            classes: 3,
            prediction: false
        }
    );
    assert_eq!(
        ConfusionMatrix::new(3, &[], &[]).unwrap_err().to_string(),
        "cannot score no samples: the confusion matrix needs at least one"
    );
}

// ---------------------------------------------------------------------------------------------
// Regression scores

#[test]
fn regression_scores_match_scikit_learn_examples() {
    // The examples of scikit-learn's `mean_squared_error` (0.375), `mean_absolute_error` (0.5)
    // and `r2_score` (0.948...) documentation.
    let targets = Batch::<f64, 1>::from_column_slice(&[3.0, -0.5, 2.0, 7.0]);
    let predictions = Batch::<f64, 1>::from_column_slice(&[2.5, 0.0, 2.0, 8.0]);
    let s = Regression::new(&predictions, &targets).unwrap();
    assert!((s.mse - 0.375).abs() < EXACT);
    assert!((s.mae - 0.5).abs() < EXACT);
    // 1 - 1.5 / 29.1875 (residual and total sums of squares, by hand).
    assert!((s.r2 - (1.0 - 1.5 / 29.1875)).abs() < EXACT, "{}", s.r2);
    // Two outputs (the multioutput examples of the same pages): y_true = [[0.5, 1], [-1, 1],
    // [7, -6]], y_pred = [[0, 2], [-1, 2], [8, -5]]. MSE 0.708333..., MAE 0.75; R² per output
    // 1 - 1.25 / (217/6) and 1 - 3 / (98/3), averaged (multioutput="uniform_average").
    let targets = Batch::<f64, 2>::from_column_slice(&[0.5, 1.0, -1.0, 1.0, 7.0, -6.0]);
    let predictions = Batch::<f64, 2>::from_column_slice(&[0.0, 2.0, -1.0, 2.0, 8.0, -5.0]);
    let s = Regression::new(&predictions, &targets).unwrap();
    assert!((s.mse - 4.25 / 6.0).abs() < EXACT);
    assert!((s.mae - 0.75).abs() < EXACT);
    let r2 = ((1.0 - 7.5 / 217.0) + (1.0 - 9.0 / 98.0)) / 2.0;
    assert!((s.r2 - r2).abs() < EXACT, "{} != {r2}", s.r2);
}

#[test]
fn regression_scores_of_a_network_and_their_edge_cases() {
    let mut net = Linear2::<f64>::zeros();
    net.out.weight = SMatrix::<f64, 2, 2>::identity();
    let rows = [[1.0, 2.0], [3.0, 5.0]];
    let exact = Dataset::<f64, 2, 2>::regression(&rows, &rows).unwrap();
    let s = Regression::of(&net, &exact).unwrap();
    assert_eq!((s.mse, s.mae, s.r2), (0.0, 0.0, 1.0));
    // Off by 1 everywhere: MSE = MAE = 1; R² = 1 - 2 / 2 = 0 for the first output
    // (targets 0 and 2 about their mean 1), 1 - 2 / 4.5 for the second (1 and 4).
    let off = Dataset::<f64, 2, 2>::regression(&rows, &[[0.0, 1.0], [2.0, 4.0]]).unwrap();
    let s = Regression::of(&net, &off).unwrap();
    assert_eq!((s.mse, s.mae), (1.0, 1.0));
    assert!((s.r2 - (0.0 + (1.0 - 2.0 / 4.5)) / 2.0).abs() < EXACT);
    // A constant target: R² is 1 if predicted exactly, else 0 (never NaN).
    let constant = Batch::<f64, 1>::from_column_slice(&[2.0, 2.0]);
    assert_eq!(Regression::new(&constant, &constant).unwrap().r2, 1.0);
    let wrong = Batch::<f64, 1>::from_column_slice(&[2.0, 3.0]);
    assert_eq!(Regression::new(&wrong, &constant).unwrap().r2, 0.0);
    let empty = Dataset::<f64, 2, 2>::regression::<[f64; 2], [f64; 2]>(&[], &[]).unwrap();
    assert_eq!(
        Regression::of(&net, &empty).unwrap_err().to_string(),
        "cannot score no samples: the regression score needs at least one"
    );
}
