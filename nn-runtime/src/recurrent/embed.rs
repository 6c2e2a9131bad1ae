//! The cells built during compilation from the tensors `embed!` writes into the binary, each
//! tensor checked against the declaration (PyTorch's names and shapes).

use core::marker::PhantomData;

use crate::Real;
use crate::embed::EmbedSource;

use super::{Gru, Lstm, Rnn};

/// The four tensor names of a cell: `weight_ih_l0`, `weight_hh_l0`, `bias_ih_l0`, `bias_hh_l0`.
pub type CellTensors<'a> = [&'a str; 4];

impl<T: Real, const IN: usize, const H: usize, A> Rnn<T, IN, H, A> {
    /// The cell from its tensors in `source` (`[H, IN]`, `[H, H]`, `[H]`, `[H]`); panics at
    /// compile time if one is missing or misshapen.
    #[doc(hidden)]
    #[track_caller]
    pub const fn embedded(source: &EmbedSource, names: CellTensors<'_>) -> Self {
        Self {
            weight_ih_l0: source.matrix::<T, H, IN>(names[0], &[H, IN]),
            weight_hh_l0: source.matrix::<T, H, H>(names[1], &[H, H]),
            bias_ih_l0: source.vector::<T, H>(names[2]),
            bias_hh_l0: source.vector::<T, H>(names[3]),
            activation: PhantomData,
        }
    }
}

impl<T: Real, const IN: usize, const H: usize, const G3: usize> Gru<T, IN, H, G3> {
    /// The cell from its tensors in `source` (`[3H, IN]`, `[3H, H]`, `[3H]`, `[3H]`); panics at
    /// compile time if one is missing or misshapen.
    #[doc(hidden)]
    #[track_caller]
    pub const fn embedded(source: &EmbedSource, names: CellTensors<'_>) -> Self {
        Self {
            weight_ih_l0: source.matrix::<T, G3, IN>(names[0], &[G3, IN]),
            weight_hh_l0: source.matrix::<T, G3, H>(names[1], &[G3, H]),
            bias_ih_l0: source.vector::<T, G3>(names[2]),
            bias_hh_l0: source.vector::<T, G3>(names[3]),
        }
    }
}

impl<T: Real, const IN: usize, const H: usize, const G4: usize> Lstm<T, IN, H, G4> {
    /// The cell from its tensors in `source` (`[4H, IN]`, `[4H, H]`, `[4H]`, `[4H]`); panics at
    /// compile time if one is missing or misshapen.
    #[doc(hidden)]
    #[track_caller]
    pub const fn embedded(source: &EmbedSource, names: CellTensors<'_>) -> Self {
        Self {
            weight_ih_l0: source.matrix::<T, G4, IN>(names[0], &[G4, IN]),
            weight_hh_l0: source.matrix::<T, G4, H>(names[1], &[G4, H]),
            bias_ih_l0: source.vector::<T, G4>(names[2]),
            bias_hh_l0: source.vector::<T, G4>(names[3]),
        }
    }
}
