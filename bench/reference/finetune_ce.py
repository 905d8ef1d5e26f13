#!/usr/bin/env python3
"""PyTorch reference of `spikeclip finetune --loss ce` from scratch (issue 11's learning bar).

Reimplements, independently of TF.js, exactly what our finetune does with a fresh preset and no
teacher: the spiking image encoder (METHOD.md section 3, spikingjelly's multi-step LIF with hard
reset and detach_reset, sigmoid surrogate alpha 4), student logits z = normalize(f) @ W^T (cosines,
no scale), mean CE, Adam with AMSGrad (betas 0.9/0.999, eps 1e-8), lr = the cosine schedule's
epoch-0 value (the run never leaves epoch 0), BatchNorm pooled over time and batch (momentum 0.1).
W is the class matrix our fresh text encoder builds (bench/reference/export_init.js), so both
sides classify against the same vectors.

    node bench/reference/export_init.js --data-dir DIR --seed 1 --out /tmp/init-seed1.json
    python3 bench/reference/finetune_ce.py --data-dir DIR --init-file /tmp/init-seed1.json --seed 1

--init torch (default) initialises the image encoder the PyTorch way (nn.Conv2d / nn.Linear
defaults, trunc-normal 0.02 projection); --init ours loads the exported TF.js initial weights.
--view reference reproduces our default student view of a 32x32 image (bicubic 32 -> 224, then
bilinear 224 -> 32, i.e. every 7th pixel from 3); --view direct feeds the raw pixels.
Optional tooling (needs python3-torch, numpy, and Pillow for --view reference); not used by tests/CI.
"""
import argparse
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


# ------------------------------------------------------------------------------------------------
# neuron


class SigmoidSpike(torch.autograd.Function):
    """Heaviside forward (x >= 0), sigmoid surrogate backward: alpha * sig(alpha x) (1 - sig(alpha x))."""

    @staticmethod
    def forward(ctx, x, alpha):
        ctx.save_for_backward(x)
        ctx.alpha = alpha
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        s = torch.sigmoid(ctx.alpha * x)
        return g * ctx.alpha * s * (1 - s), None


class LIF(nn.Module):
    """Multi-step LIF over dim 0 (T): H = V + (X - (V - v_reset)) / tau, S = H >= v_th, hard reset, detach_reset."""

    def __init__(self, tau=2.0, v_th=1.0, v_reset=0.0, alpha=4.0):
        super().__init__()
        self.tau, self.v_th, self.v_reset, self.alpha = tau, v_th, v_reset, alpha

    def forward(self, x):
        v = torch.full_like(x[0], self.v_reset)
        out = []
        for t in range(x.shape[0]):
            h = v + (x[t] - (v - self.v_reset)) / self.tau
            s = SigmoidSpike.apply(h - self.v_th, self.alpha)
            sd = s.detach()
            v = h * (1 - sd) + self.v_reset * sd
            out.append(s)
        return torch.stack(out)


# ------------------------------------------------------------------------------------------------
# image encoder (tensor names as ours / the reference's state dict)


class Tokenizer(nn.Module):
    def __init__(self, dim, T):
        super().__init__()
        self.T = T
        ch = [3, dim // 8, dim // 4, dim // 2, dim, dim]
        for i in range(5):
            setattr(self, f"block{i}_conv", nn.Conv2d(ch[i], ch[i + 1], 3, padding=1, bias=False))
            setattr(self, f"block{i}_bn", nn.BatchNorm2d(ch[i + 1]))
            if i > 0:
                setattr(self, f"block{i}_lif", LIF())

    def forward(self, img):  # [B, 3, H, W] -> [T, B, N, D]
        T, B = self.T, img.shape[0]
        y = self.block0_bn(self.block0_conv(img.repeat(T, 1, 1, 1)))  # row t*B + b
        for i in range(1, 5):
            if i >= 3:
                y = F.max_pool2d(y, 3, 2, 1)
            _, c, h, w = y.shape
            s = getattr(self, f"block{i}_lif")(y.reshape(T, B, c, h, w)).reshape(T * B, c, h, w)
            y = getattr(self, f"block{i}_bn")(getattr(self, f"block{i}_conv")(s))
        _, c, h, w = y.shape
        return y.reshape(T, B, c, h * w).transpose(2, 3)


def bn_rows(bn, x):
    """BatchNorm over every row of [..., C] (statistics pooled over T, B and tokens)."""
    shp = x.shape
    return bn(x.reshape(-1, shp[-1])).reshape(shp)


class SSA(nn.Module):
    def __init__(self, dim, heads, scale=0.125):
        super().__init__()
        self.heads, self.scale = heads, scale
        self.proj_lif = LIF()
        for n in "qkv":
            setattr(self, f"{n}_conv", nn.Linear(dim, dim, bias=False))
            setattr(self, f"{n}_bn", nn.BatchNorm1d(dim))
            setattr(self, f"{n}_lif", LIF())
        self.attn_lif = LIF(v_th=0.5)
        self.proj_conv = nn.Linear(dim, dim)
        self.proj_bn = nn.BatchNorm1d(dim)

    def forward(self, x):  # [T, B, N, C]
        T, B, N, C = x.shape
        H = self.heads
        s = self.proj_lif(x)

        def branch(n):
            y = bn_rows(getattr(self, f"{n}_bn"), getattr(self, f"{n}_conv")(s))
            sp = getattr(self, f"{n}_lif")(y)
            return sp.reshape(T * B, N, H, C // H).transpose(1, 2)

        q, k, v = branch("q"), branch("k"), branch("v")
        o = (q @ k.transpose(-1, -2)) @ v * self.scale
        merged = o.transpose(1, 2).reshape(T, B, N, C)
        a = self.attn_lif(merged)
        return bn_rows(self.proj_bn, self.proj_conv(a))


class MLP(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.mlp1_lif, self.mlp2_lif = LIF(), LIF()
        self.mlp1_conv, self.mlp1_bn = nn.Linear(dim, hidden), nn.BatchNorm1d(hidden)
        self.mlp2_conv, self.mlp2_bn = nn.Linear(hidden, dim), nn.BatchNorm1d(dim)

    def forward(self, x):
        h = bn_rows(self.mlp1_bn, self.mlp1_conv(self.mlp1_lif(x)))
        return bn_rows(self.mlp2_bn, self.mlp2_conv(self.mlp2_lif(h)))


class Block(nn.Module):
    def __init__(self, dim, heads, mlp_ratio):
        super().__init__()
        self.attn = SSA(dim, heads)
        self.mlp = MLP(dim, dim * mlp_ratio)

    def forward(self, x):
        x = x + self.attn(x)
        return x + self.mlp(x)


class ImageEncoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        T, D = cfg["timeSteps"], cfg["embedDim"]
        self.weights_tensor = nn.Parameter(torch.tensor([math.log(0.8 * 2 ** -(T - 1 - t)) for t in range(T)]))
        self.patch_embed = Tokenizer(D, T)
        self.block = nn.ModuleList([Block(D, cfg["heads"], cfg["mlpRatio"]) for _ in range(cfg["depth"])])
        self.proj = nn.Linear(D, cfg["outputDim"])
        nn.init.trunc_normal_(self.proj.weight, std=0.02)
        nn.init.zeros_(self.proj.bias)

    def forward(self, img):
        x = self.patch_embed(img)
        for b in self.block:
            x = b(x)
        x = x.mean(2)  # [T, B, D]
        x = (x * self.weights_tensor.view(-1, 1, 1)).sum(0)
        return self.proj(x)


def load_ours(model, tensors):
    """Our layouts -> PyTorch's: conv [kh, kw, in, out] -> [out, in, kh, kw]; linear [in, out] -> [out, in]."""
    sd = model.state_dict()
    done = set()
    for name, t in tensors.items():
        a = torch.tensor(t["data"], dtype=torch.float32).reshape(t["shape"])
        if a.dim() == 4:
            a = a.permute(3, 2, 0, 1)
        elif a.dim() == 2:
            a = a.t()
        if name not in sd or sd[name].shape != a.shape:
            raise SystemExit(f"init file: {name} {tuple(a.shape)} does not fit the model ({tuple(sd[name].shape) if name in sd else 'absent'})")
        sd[name] = a.contiguous()
        done.add(name)
    missing = [n for n in sd if n not in done and not n.endswith("num_batches_tracked")]
    if missing:
        raise SystemExit(f"init file lacks {missing}")
    model.load_state_dict(sd)


# ------------------------------------------------------------------------------------------------
# data


def read_cifar10(data_dir):
    root = os.path.join(data_dir, "cifar-10-batches-bin")

    def read(files):
        raw = np.concatenate([np.fromfile(os.path.join(root, f), dtype=np.uint8).reshape(-1, 3073) for f in files])
        return raw[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy(), raw[:, 0].astype(np.int64)

    return read([f"data_batch_{i}.bin" for i in range(1, 6)]), read(["test_batch.bin"])


def reference_view(images):
    """Our default student view of a 32x32 image: Pillow bicubic 32 -> 224, then PyTorch's bilinear 224 -> 32
    (align_corners False: sample points 7i + 3, whole pixels)."""
    from PIL import Image

    out = np.empty_like(images)
    idx = np.arange(32) * 7 + 3
    for i, im in enumerate(images):
        big = np.asarray(Image.fromarray(im).resize((224, 224), Image.BICUBIC))
        out[i] = big[idx][:, idx]
    return out


def normalise(images):
    x = torch.from_numpy(images).float().div_(255).permute(0, 3, 1, 2)
    mean = torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    return ((x - mean) / std).contiguous()


def carve_train(labels, fraction, seed):
    """Stratified: `fraction` of each class held out (as our registry carves val); returns the train indices."""
    rng = np.random.default_rng(seed)
    keep = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        keep.append(idx[int(round(len(idx) * fraction)):])
    return np.sort(np.concatenate(keep))


# ------------------------------------------------------------------------------------------------


def evaluate(model, W, x, y, batch=500):
    model.eval()
    top1 = top5 = 0
    with torch.no_grad():
        for s in range(0, len(y), batch):
            z = F.normalize(model(x[s : s + batch]), dim=-1, eps=1e-8) @ W.t()
            t5 = z.topk(5, dim=-1).indices
            yy = y[s : s + batch]
            top1 += (t5[:, 0] == yy).sum().item()
            top5 += (t5 == yy[:, None]).any(-1).sum().item()
    model.train()
    return top1 / len(y), top5 / len(y)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", required=True, help="folder holding cifar-10-batches-bin/")
    ap.add_argument("--init-file", required=True, help="JSON from bench/reference/export_init.js (W, initial weights)")
    ap.add_argument("--init", choices=["torch", "ours"], default="torch")
    ap.add_argument("--view", choices=["reference", "direct"], default="reference")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--max-steps", type=int, default=157)
    ap.add_argument("--val-fraction", type=float, default=0.1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--log-every", type=int, default=20)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    t0 = time.time()

    init = json.load(open(a.init_file))
    W = torch.tensor(init["W"]["weights"], dtype=torch.float32).reshape(init["W"]["numClasses"], init["W"]["dim"])
    (tr_img, tr_y), (te_img, te_y) = read_cifar10(a.data_dir)
    if a.view == "reference":
        tr_img, te_img = reference_view(tr_img), reference_view(te_img)
    keep = carve_train(tr_y, a.val_fraction, a.seed)
    x_tr, y_tr = normalise(tr_img[keep]), torch.from_numpy(tr_y[keep])
    x_te, y_te = normalise(te_img), torch.from_numpy(te_y)
    t_data = time.time() - t0

    model = ImageEncoder(init["imageConfig"])
    if a.init == "ours":
        load_ours(model, init["image"])
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=a.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=True)
    g = torch.Generator().manual_seed(a.seed)
    order = torch.randperm(len(y_tr), generator=g)
    t1 = time.time()
    losses = []
    for step in range(a.max_steps):
        s = (step * a.batch_size) % len(y_tr)
        idx = order[s : s + a.batch_size]
        z = F.normalize(model(x_tr[idx]), dim=-1, eps=1e-8) @ W.t()
        loss = F.cross_entropy(z, y_tr[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if (step + 1) % a.log_every == 0:
            print(f"step {step + 1}: loss {np.mean(losses[-a.log_every:]):.4f}", flush=True)
    t_train = time.time() - t1
    top1, top5 = evaluate(model, W, x_te, y_te)
    res = {
        "seed": a.seed, "init": a.init, "view": a.view, "steps": a.max_steps, "batch_size": a.batch_size, "lr": a.lr,
        "images_seen": a.max_steps * a.batch_size, "first_loss": losses[0], "last_loss_mean20": float(np.mean(losses[-20:])),
        "test_top1": top1, "test_top5": top5, "train_seconds": round(t_train, 1), "data_seconds": round(t_data, 1),
        "threads": a.threads, "torch": torch.__version__,
    }
    print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
