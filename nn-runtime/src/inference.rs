//! Inference-only networks: what `network!` generates for a declaration without `loss:`, and
//! how a training method used on one becomes a compile error that says so.

mod sealed {
    /// Implemented by nothing: [`Trainable`](super::Trainable) can have no implementation.
    pub trait Sealed {}
}

/// The bound on the training methods (`loss`, `backward`, `sgd_step`, `loss_batch`,
/// `backward_batch`) of a network declared without `loss:`. No type implements it (it is
/// sealed), so calling one of them fails to compile with this trait's message, at the call.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is an inference-only network: it declares no loss, so it has no training methods",
    label = "`loss`, `backward`, `sgd_step` and their batch forms need a loss",
    note = "add `loss: <loss>,` as the last entry of the `network!` declaration to train it"
)]
pub trait Trainable: sealed::Sealed {
    /// Never called (there is no value of a type implementing this trait to call it on); the
    /// body of each training method of an inference-only network, which needs no panic.
    fn unreachable(&self) -> !;
}
