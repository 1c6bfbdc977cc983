"""Vision benchmarks (issue 13), each against the plain alternative in the same run:

* detection training throughput (images/s): Keel's `train_loop` vs a hand-written Adam loop, the same
  CenterNet-style detector, scenes, batch size, epochs and seed, interleaved;
* inference latency: one raw PNG -> boxes (decode, resize, forward, NMS: `predict` as the pyfunc runs it) and
  one raw MP4 -> label (PyAV decode + CNN + GRU), median of single calls;
* video decode throughput (source frames/s): Keel's `video.probe` (decode every frame, check, select and
  resize T) vs a plain PyAV loop that decodes every frame and converts each with `to_ndarray`.

    python bench/vision.py [--scenes 600] [--epochs 3] [--repeats 3] [--clips 100] [--device cpu|cuda|auto]

`--device cuda` trains both loops on the GPU and measures the latencies there as well as on the CPU (decode
is PyAV on the CPU either way).

Prints the goal lines (ratios) and writes bench/results/vision.json. Run it on a quiet machine: wall-clock
figures on a shared one are load noise.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

from components.config.media import ClipConfig, DecodeConfig, DetectionFeaturesConfig, SceneConfig
from components.config.sections import TrainConfig
from components.data import clips, coco, scenes, video
from components.data.transforms.detection import DetectionTransform
from components.data.transforms.video import VideoTransform
from components.inference.checkpoint import Checkpoint
from components.inference.predict import predict
from components.models import detection
from components.models import video as video_model
from components.training.loop import Tensors, set_seeds, train_loop


def scene_tensors(root: Path, n: int, device: torch.device) -> tuple[Tensors, DetectionTransform, pd.DataFrame]:
    scenes.write_scenes(root, SceneConfig(n_train=n, n_val=1, n_test=8))
    df = coco.read(root)
    train = df[df["split"] == "train"]
    t = DetectionTransform.fit(train, {}, "detection", DetectionFeaturesConfig())
    data = Tensors(torch.from_numpy(t.features(train)), torch.from_numpy(t.targets(train))).to(device)
    return data, t, df[df["split"] == "test"]


def raw_loop(model: torch.nn.Module, data: Tensors, epochs: int, batch_size: int, lr: float,
             seed: int) -> tuple[float, float]:
    """The loop a PyTorch user would write around the same model; returns (wall seconds, CPU seconds)."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(epochs):
        perm = torch.randperm(len(data.x), generator=gen)
        for i in range(0, len(perm), batch_size):
            idx = perm[i:i + batch_size].to(data.x.device)
            opt.zero_grad()
            _, loss = model(data.x[idx], data.y[idx])
            loss.backward()
            opt.step()
    if data.x.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0, time.process_time() - c0


def median_ms(fn, repeats: int) -> dict[str, float]:
    """Median wall and CPU milliseconds of single calls (CPU time: what a loaded machine inflates least)."""
    fn()  # warm-up
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return {"wall": 1000 * statistics.median(wall), "cpu": 1000 * statistics.median(cpu)}


def decode_plain(path: str) -> int:
    """Every frame decoded and converted to a gray array, one at a time: the plain PyAV loop."""
    import av

    with av.open(path) as c:
        return sum(1 for f in c.decode(video=0) if f.to_ndarray(format="gray") is not None)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenes", type=int, default=600)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--clips", type=int, default=100)
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"))
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    device = torch.device("cuda" if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
                          else "cpu")
    tmp = Path(tempfile.mkdtemp(prefix="keel-vision-"))
    data, transform, test = scene_tensors(tmp / "scenes", args.scenes, device)
    cfg = TrainConfig(epochs=args.epochs, patience=args.epochs + 1, batch_size=32, lr=0.003, progress=False)
    arch = detection.DetectionConfig()
    n = len(data) * args.epochs
    keel, raw, keel_cpu, raw_cpu = [], [], [], []
    set_seeds(cfg.seed)  # untimed warm-up (allocator, kernels): else the first timed loop pays for it
    raw_loop(detection.build(arch, tuple(data.x.shape[1:]), transform.n_outputs).to(device), data, 1,
             cfg.batch_size, cfg.lr, cfg.seed)
    for r in range(args.repeats):
        for who in (("keel", "raw") if r % 2 == 0 else ("raw", "keel")):
            set_seeds(cfg.seed)
            model = detection.build(arch, tuple(data.x.shape[1:]), transform.n_outputs).to(device)
            if who == "raw":
                wall, cpu = raw_loop(model, data, args.epochs, cfg.batch_size, cfg.lr, cfg.seed)
                raw.append(n / wall)
                raw_cpu.append(n / cpu)
            else:
                c0 = time.process_time()  # includes the loop's one 32-image validation pass per epoch
                hist = train_loop(model, data, Tensors(data.x[:32], data.y[:32]), cfg, device, classification=False)
                keel_cpu.append(n / (time.process_time() - c0))
                keel.append(n / sum(e.seconds for e in hist.epochs))
    model = model.cpu().eval()
    ckpt = Checkpoint(model=model, family="detection", config=arch, transform=transform,
                      input_shape=tuple(data.x.shape[1:]), meta={})
    one_image = test.head(1)[["image"]]
    devices = [torch.device("cpu")] + ([device] if device.type != "cpu" else [])
    image_ms = {d.type: median_ms(lambda d=d: predict(ckpt, one_image, serving=True, device=d), 50) for d in devices}

    clip_cfg = ClipConfig(n_train=args.clips, n_val=1, n_test=1)
    clips.write_clips(tmp / "clips", clip_cfg)
    files = sorted(str(f) for f in (tmp / "clips" / "train").rglob("*.mp4"))
    decode = DecodeConfig()
    t0 = time.process_time()
    keel_frames = sum(video.probe(f, decode)["frame_count"] for f in files)
    keel_fps = keel_frames / (time.process_time() - t0)
    t0 = time.process_time()
    plain_frames = sum(decode_plain(f) for f in files)
    plain_fps = plain_frames / (time.process_time() - t0)
    vt = VideoTransform(decoding=decode, mean=0.0, std=1.0, classes=list(clips.LABELS))
    vmodel = video_model.build(video_model.VideoConfig(), (decode.frames, 1, decode.height, decode.width), 4).eval()
    vckpt = Checkpoint(model=vmodel, family="video", config=video_model.VideoConfig(), transform=vt,
                       input_shape=(decode.frames, 1, decode.height, decode.width), meta={})
    one_clip = pd.DataFrame({"video": [Path(files[0]).read_bytes()]})
    clip_ms = {d.type: median_ms(lambda d=d: predict(vckpt, one_clip, serving=True, device=d), 30) for d in devices}

    med = {"keel": statistics.median(keel), "raw": statistics.median(raw)}
    med_cpu = {"keel": statistics.median(keel_cpu), "raw": statistics.median(raw_cpu)}
    load = {"before": load_before, "after": os.getloadavg()}
    result = {"device": str(device), "threads": torch.get_num_threads(), "train_scenes": len(data),
              "epochs": args.epochs, "repeats": args.repeats, "detection_images_per_s": med,
              "detection_ratio": med["keel"] / med["raw"], "detection_images_per_cpu_s": med_cpu,
              "detection_cpu_ratio": med_cpu["keel"] / med_cpu["raw"], "load_avg_1_5_15": load,
              "latency_ms": {"image": image_ms, "clip": clip_ms},
              "decode_frames_per_cpu_s": {"keel_probe": keel_fps, "plain_pyav": plain_fps},
              "decode_ratio": keel_fps / plain_fps, "clips": len(files),
              "all": {"keel": keel, "raw": raw, "keel_cpu": keel_cpu, "raw_cpu": raw_cpu}}
    print(f"load average (1, 5, 15 min): before {load['before']}, after {load['after']}; "
          f"{torch.get_num_threads()} torch thread(s)")
    print(f"detection training: keel {med['keel']:,.0f} img/s, raw {med['raw']:,.0f} img/s, "
          f"ratio {result['detection_ratio']:.3f} (goal >= 0.97); per CPU second: keel {med_cpu['keel']:,.0f}, "
          f"raw {med_cpu['raw']:,.0f}, ratio {result['detection_cpu_ratio']:.3f}")
    for d in image_ms:
        print(f"latency on {d}: raw PNG -> boxes {image_ms[d]['wall']:.2f} ms ({image_ms[d]['cpu']:.2f} CPU ms); "
              f"raw MP4 -> label {clip_ms[d]['wall']:.2f} ms ({clip_ms[d]['cpu']:.2f} CPU ms) "
              "(median, batch 1, decode included)")
    print(f"video decode: keel {keel_fps:,.0f} source frames/CPU-s, plain PyAV loop {plain_fps:,.0f}, "
          f"ratio {result['decode_ratio']:.2f}")
    out = Path("bench/results")
    out.mkdir(parents=True, exist_ok=True)
    (out / "vision.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
