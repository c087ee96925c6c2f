// forgebench torch ops: PyTorch's optimiser steps, op for op as torch/optim's single-tensor code (the code path
// PyTorch takes for CPU tensors). They must call exactly the
// ATen functions PyTorch calls, with the same scalar arguments, so that a replay reproduces the user's training
// bit for bit in the same profile; tch exposes neither `alpha` nor `value` on these ops, hence C++.
// Every function is extern "C" and never throws across the boundary.
#include <ATen/ATen.h>
#include <cmath>
#include <cstring>
#include <string>

namespace {
void set_error(const std::string& s, char* buf, size_t cap) {
  if (buf != nullptr && cap > 0) {
    size_t n = s.size() < cap - 1 ? s.size() : cap - 1;
    std::memcpy(buf, s.data(), n);
    buf[n] = '\0';
  }
}

}  // namespace

extern "C" {

// torch.optim.SGD's update of one parameter (in place on param and buf). `has_buf` is 0 on the first step, when
// PyTorch creates the momentum buffer as a copy of the (decayed) gradient.
int fb_sgd_step(at::Tensor* param, at::Tensor* grad_in, at::Tensor* buf, int has_buf, double lr, double momentum,
                double dampening, int nesterov, double weight_decay, char* err, size_t cap) {
  try {
    at::Tensor grad = *grad_in;
    if (weight_decay != 0) grad = grad.add(*param, weight_decay);
    if (momentum != 0) {
      if (has_buf == 0) {
        buf->copy_(grad);
      } else {
        buf->mul_(momentum).add_(grad, 1 - dampening);
      }
      if (nesterov != 0) {
        grad = grad.add(*buf, momentum);
      } else {
        grad = *buf;
      }
    }
    param->add_(grad, -lr);
    return 0;
  } catch (const std::exception& e) {
    set_error(e.what(), err, cap);
    return 1;
  }
}

// torch.optim.Adam's (decoupled = 0) or AdamW's (decoupled = 1) update of one parameter, at step count `step`
// (already incremented, as PyTorch increments state['step'] before using it).
int fb_adam_step(at::Tensor* param, at::Tensor* grad_in, at::Tensor* exp_avg, at::Tensor* exp_avg_sq, double step,
                 double lr, double beta1, double beta2, double eps, double weight_decay, int decoupled, char* err,
                 size_t cap) {
  try {
    at::Tensor grad = *grad_in;
    if (weight_decay != 0) {
      if (decoupled != 0) {
        param->mul_(1 - lr * weight_decay);
      } else {
        grad = grad.add(*param, weight_decay);
      }
    }
    exp_avg->lerp_(grad, 1 - beta1);
    exp_avg_sq->mul_(beta2).addcmul_(grad, grad, 1 - beta2);
    double bias_correction1 = 1 - std::pow(beta1, step);
    double bias_correction2 = 1 - std::pow(beta2, step);
    double step_size = lr / bias_correction1;
    double bias_correction2_sqrt = std::pow(bias_correction2, 0.5);
    at::Tensor denom = (exp_avg_sq->sqrt() / bias_correction2_sqrt).add_(eps);
    param->addcdiv_(*exp_avg, denom, -step_size);
    return 0;
  } catch (const std::exception& e) {
    set_error(e.what(), err, cap);
    return 1;
  }
}

}  // extern "C"
