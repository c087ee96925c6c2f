//! LeNet-5 per-example gradients in one batched pass. The summed loss's gradient with respect to each layer's
//! output z_l holds, in row j, example j's own gradient (examples do not interact); each weight gradient is then a
//! per-example product: dz_j a_j^T for a linear layer, dz_j unfold(a_j)^T for a convolution (`im2col` + `bmm`).
//! The architecture mirrors `models::lenet` exactly; the test against the per-example loop guards that.
use crate::error::Result;
use crate::models;
use forgebench_shared::experiment::ModelKind;
use tch::{Kind, Tensor};

/// `[n, 61706]` per-example gradients of LeNet-5 at `theta`, in the layout order of `models::layout`.
pub fn grads(theta: &Tensor, x: &Tensor, y: &Tensor) -> Result<Tensor> {
    let n = x.size()[0];
    let th = theta.f_detach()?;
    let specs = models::layout(ModelKind::Lenet5);
    let mut p = Vec::with_capacity(specs.len());
    let mut off = 0i64;
    for s in &specs {
        let len = s.numel() as i64;
        p.push(th.narrow(0, off, len).view(s.shape.as_slice()));
        off += len;
    }
    let x = x.to_kind(th.kind());
    let (zs, inputs, loss) = tch::with_grad(|| {
        let z1 = x
            .conv2d(&p[0], Some(&p[1]), [1, 1], [2, 2], [1, 1], 1)
            .set_requires_grad(true);
        let h1 = z1.relu().max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false);
        let z2 = h1.conv2d(&p[2], Some(&p[3]), [1, 1], [0, 0], [1, 1], 1);
        let h2 = z2
            .relu()
            .max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false)
            .flatten(1, -1);
        let z3 = h2.linear(&p[4], Some(&p[5]));
        let a3 = z3.relu();
        let z4 = a3.linear(&p[6], Some(&p[7]));
        let a4 = z4.relu();
        let z5 = a4.linear(&p[8], Some(&p[9]));
        // The mean loss times n is the sum, whose gradient holds each example's own gradient.
        let loss = z5.log_softmax(-1, None::<Kind>).nll_loss(y) * n as f64;
        let inputs = [x.shallow_clone(), h1.detach(), h2.detach(), a3.detach(), a4.detach()];
        ([z1, z2, z3, z4, z5], inputs, loss)
    });
    let dz = Tensor::f_run_backward(&[&loss], &zs, false, false)?;
    let _guard = tch::no_grad_guard();
    let conv = |d: &Tensor, a: &Tensor, pad: i64| {
        let c = d.size()[1];
        let d = d.view([n, c, -1]);
        let unf = a.im2col([5, 5], [1, 1], [pad, pad], [1, 1]);
        [
            d.bmm(&unf.transpose(1, 2)).view([n, -1]),
            d.sum_dim_intlist(2, false, None::<Kind>),
        ]
    };
    let lin = |d: &Tensor, a: &Tensor| [(d.unsqueeze(2) * a.unsqueeze(1)).view([n, -1]), d.shallow_clone()];
    let parts: Vec<Tensor> = [
        conv(&dz[0], &inputs[0], 2),
        conv(&dz[1], &inputs[1], 0),
        lin(&dz[2], &inputs[2]),
        lin(&dz[3], &inputs[3]),
        lin(&dz[4], &inputs[4]),
    ]
    .into_iter()
    .flatten()
    .collect();
    Ok(Tensor::f_cat(&parts, 1)?)
}
