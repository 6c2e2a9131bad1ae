// A `Standardizer` fits a `Dataset` or a `Batch`, not the rows the dataset was built from.
use nn_runtime::data::Standardizer;

fn main() {
    let rows = vec![[1.0f32, 2.0], [3.0, 4.0]];
    let _standardizer: Standardizer<f32, 2> = Standardizer::fit(&rows);
}
