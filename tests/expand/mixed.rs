// Every layer kind: dense with and without bias, identity and projected residuals, layer norm.
nn_runtime::network! {
    /// A network with residuals and a layer norm.
    #[derive(Clone, Debug)]
    pub struct Mixed {
        input: 4,
        h1: dense(8, tanh),
        h2: dense(8, relu) + h1,
        h3: dense(6, gelu, bias = false) + project(h1),
        norm: layer_norm(eps = 1e-3),
        out: dense(3),
        loss: softmax_cross_entropy,
    }
}
