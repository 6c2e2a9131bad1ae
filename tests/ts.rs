//! The six committed `.ts.gz` files of `data/sequences/` read as the archive describes them.
//!
//! The expected counts, sums and values were computed with Python's `gzip`, `float` and
//! `math.fsum` from the same files (an independent parser), and agree with the archive's
//! description (shared/data/README.md).

use nn_runtime::data::Dataset;
use nn_runtime::ts::{self, TsFile};

/// Plain left-to-right summation of up to 68 244 values of magnitude below ~50 drifts from
/// the exactly rounded sum (`math.fsum`) by well under 1e-9 relative; a misread value
/// (a digit, a sign, a lost exponent) moves it by far more.
const SUM_TOLERANCE: f64 = 1e-9;

fn read(name: &str) -> TsFile {
    let path = format!("{}/data/sequences/{name}.ts.gz", env!("CARGO_MANIFEST_DIR"));
    ts::read(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// What Python found in one file.
struct Expected {
    cases: usize,
    channels: usize,
    lengths: (usize, usize),
    classes: &'static [&'static str],
    class_counts: &'static [usize],
    sum: f64,
    sum_of_squares: f64,
    /// Channel 0, step 0 of the first case.
    first: f64,
    /// The last channel's last step of the last case.
    last: f64,
    /// The last channel's last step of case 10 (index 9), and its class.
    tenth: (f64, &'static str),
}

fn check(name: &str, expected: &Expected) -> TsFile {
    let file = read(name);
    let problem = name.split('_').next().unwrap();
    assert_eq!(file.header().problem_name.as_deref(), Some(problem));
    assert_eq!(file.len(), expected.cases, "{name}");
    assert_eq!(file.channels(), expected.channels, "{name}");
    assert_eq!(file.length_range(), expected.lengths, "{name}");
    assert_eq!(file.classes(), expected.classes, "{name}");
    let mut counts = vec![0; file.classes().len()];
    for case in file.cases() {
        assert_eq!(case.channels(), expected.channels, "{name}");
        counts[case.label().unwrap()] += 1;
    }
    assert_eq!(counts, expected.class_counts, "{name}");

    let values = file.cases().iter().flat_map(|c| c.values());
    let sum: f64 = values.clone().sum();
    let sum_of_squares: f64 = values.map(|v| v * v).sum();
    let close = |a: f64, b: f64| (a - b).abs() <= SUM_TOLERANCE * b.abs().max(1.0);
    assert!(close(sum, expected.sum), "{name}: sum {sum}");
    assert!(
        close(sum_of_squares, expected.sum_of_squares),
        "{name}: sum of squares {sum_of_squares}"
    );

    let cases = file.cases();
    assert_eq!(cases[0].values()[0], expected.first, "{name}");
    assert_eq!(
        *cases[cases.len() - 1].values().last().unwrap(),
        expected.last
    );
    let tenth = &cases[9];
    assert_eq!(*tenth.values().last().unwrap(), expected.tenth.0, "{name}");
    assert_eq!(file.classes()[tenth.label().unwrap()], expected.tenth.1);
    file
}

#[test]
fn japanese_vowels_is_12_channels_of_variable_length() {
    const CLASSES: &[&str] = &["1", "2", "3", "4", "5", "6", "7", "8", "9"];
    let train = check(
        "JapaneseVowels_TRAIN",
        &Expected {
            cases: 270,
            channels: 12,
            lengths: (7, 26),
            classes: CLASSES,
            class_counts: &[30; 9],
            sum: -1057.452303,
            sum_of_squares: 9465.77964274105,
            first: 1.860936,
            last: 0.173642,
            tenth: (0.034121, "1"),
        },
    );
    let test = check(
        "JapaneseVowels_TEST",
        &Expected {
            cases: 370,
            channels: 12,
            lengths: (7, 29),
            classes: CLASSES,
            class_counts: &[31, 35, 88, 44, 29, 24, 40, 50, 29],
            sum: -2146.51343,
            sum_of_squares: 11368.212121590472,
            first: 1.635533,
            last: 0.224688,
            tenth: (-0.155951, "1"),
        },
    );
    assert!(!train.header().equal_length.unwrap());

    // Variable lengths: no fixed-width dataset, but sequences of 12-wide steps.
    let error = test.dataset::<f32, { 12 * 29 }, 9>().unwrap_err();
    assert!(
        error
            .to_string()
            .ends_with("cases have 7 to 29 steps, but a dataset needs one length; pad or truncate the cases, or read them as sequences"),
        "{error}"
    );
    let sequences = test.sequences::<f32, 12>().unwrap();
    assert_eq!(sequences.len(), 370);
    for (sequence, case) in sequences.iter().zip(test.cases()) {
        assert_eq!(sequence.steps.len(), case.steps());
        assert_eq!(Some(sequence.label), case.label());
        let t = case.steps() - 1;
        for c in 0..12 {
            assert_eq!(sequence.steps[t][c], case.channel(c)[t] as f32);
        }
    }
    assert_eq!(sequences[0].steps[0][0], 1.635533f32);
}

#[test]
fn basic_motions_is_6_channels_of_100_steps() {
    const CLASSES: &[&str] = &["Standing", "Running", "Walking", "Badminton"];
    let train = check(
        "BasicMotions_TRAIN",
        &Expected {
            cases: 40,
            channels: 6,
            lengths: (100, 100),
            classes: CLASSES,
            class_counts: &[10; 4],
            sum: 646.184441,
            sum_of_squares: 552681.4557393101,
            first: 0.079106,
            last: 0.428803,
            tenth: (0.085228, "Standing"),
        },
    );
    check(
        "BasicMotions_TEST",
        &Expected {
            cases: 40,
            channels: 6,
            lengths: (100, 100),
            classes: CLASSES,
            class_counts: &[10; 4],
            sum: -278.36259899999993,
            sum_of_squares: 492377.49465805717,
            first: -0.740653,
            last: -1.77647,
            tenth: (-0.298298, "Standing"),
        },
    );

    // Flattened channels first: x[c * 100 + t].
    let data: Dataset<f32, 600, 4> = train.dataset().unwrap();
    assert_eq!(data.len(), 40);
    for (i, case) in train.cases().iter().enumerate() {
        for (c, t) in [(0, 0), (2, 57), (5, 99)] {
            assert_eq!(data.inputs[(c * 100 + t, i)], case.channel(c)[t] as f32);
        }
        assert_eq!(Some(data.labels()[i]), case.label());
    }
    let error = train.dataset::<f32, 100, 4>().unwrap_err();
    assert!(
        error.to_string().ends_with(
            "cases are 6 channels × 100 steps = 600 values but the network takes 100 inputs"
        ),
        "{error}"
    );
}

#[test]
fn gun_point_is_1_channel_of_150_steps() {
    const CLASSES: &[&str] = &["1", "2"];
    let train = check(
        "GunPoint_TRAIN",
        &Expected {
            cases: 50,
            channels: 1,
            lengths: (150, 150),
            classes: CLASSES,
            class_counts: &[24, 26],
            sum: -1.4859000018003707e-06,
            sum_of_squares: 7450.000001077004,
            first: -0.6478854,
            last: -1.4308845,
            tenth: (-1.2621336, "1"),
        },
    );
    let test = check(
        "GunPoint_TEST",
        &Expected {
            cases: 150,
            channels: 1,
            lengths: (150, 150),
            classes: CLASSES,
            class_counts: &[76, 74],
            sum: 1.3166499955651425e-06,
            sum_of_squares: 22349.999999638872,
            first: -1.1250133,
            last: -1.222043,
            tenth: (-0.75159365, "1"),
        },
    );
    // No `@dimensions` header: `@univariate true` says 1.
    assert_eq!(train.header().dimensions, None);
    assert_eq!(train.header().univariate, Some(true));

    // Each series is z-normalized (sample standard deviation): mean 0 and 149 = n − 1 for
    // the sum of squares, to the 8 significant digits the file keeps.
    for case in train.cases().iter().chain(test.cases()) {
        let mean = case.values().iter().sum::<f64>() / 150.0;
        let squares: f64 = case.values().iter().map(|v| v * v).sum();
        assert!(mean.abs() < 1e-6, "line {}: mean {mean}", case.line());
        assert!(
            (squares - 149.0).abs() < 1e-4,
            "line {}: {squares}",
            case.line()
        );
    }

    let data: Dataset<f64, 150, 2> = test.dataset().unwrap();
    assert_eq!(data.inputs[(0, 0)], -1.1250133);
    assert_eq!(
        data.inputs.column(149).as_slice(),
        test.cases()[149].values()
    );
    let error = test.dataset::<f64, 150, 3>().unwrap_err();
    assert!(
        error
            .to_string()
            .ends_with("GunPoint_TEST.ts.gz` declares 2 classes but the network has 3 outputs"),
        "{error}"
    );
}
