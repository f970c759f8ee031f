"""isda-train --export, read by PyTorch itself.

Trains two tiny runs with isda-train on a synthetic CIFAR-10 (official binary format): a ResNet-8
(the authors' CIFAR topology) and a ResNet-50 (torchvision's, on 32x32 images), both with ISDA, one
epoch. Exports each with `isda-train --export`, loads the state dicts with plain torch.load into
reference definitions written here (the authors' resnet.py naming, with their final layer `fc`) and
into torchvision's ResNet-50 (torchvision.models when importable, else its definition below, with
torchvision's module names), each with strict=True. Runs them on the run's test images and checks:
  - the names are the reference's, in its state_dict order;
  - the logits equal the suite's (export_check_helper logits: the same network and images as the
    suite's evaluation) within 1e-5;
  - the test error equals the one the run recorded (result.json's final_test_error) exactly.
Then exports untrained networks of every other CIFAR ResNet depth and of ResNet-152 and
ResNeXt-50 32x4d (export_check_helper fresh) and checks their names, shapes and outputs the same way.

Usage: export_check.py --isda-train PATH --helper PATH [--keep DIR]
Exit 0 passed, 1 failed, 77 skipped (python3 cannot import torch).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

try:
    import torch
    import torch.nn as nn
except ImportError as error:
    print(f"SKIP: python3 ({sys.executable}) cannot import torch ({error}); install python3-torch (scripts/setup.sh)")
    sys.exit(77)

try:
    import torchvision
except ImportError:
    torchvision = None

import numpy as np

LOGIT_TOLERANCE = 1e-5


# ---- The ISDA authors' CIFAR ResNet (their networks/resnet.py: ResNet_Cifar of BasicBlocks) ----
# Their ResNet_Cifar returns the features; the final layer is a separate `full_layer` whose Linear
# is `fc`. AuthorsResNetWithHead is ResNet_Cifar with that `fc` as a member (the line their file
# keeps commented out), so that one state dict loads into it.

def conv3x3(in_planes, out_planes, stride=1):
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None, dropout_rate=0):
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride
        self.dropout = nn.Dropout(p=dropout_rate)

    def forward(self, x):
        residual = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.dropout(out)
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            residual = self.downsample(x)
        out += residual
        return self.relu(out)


class ResNet_Cifar(nn.Module):
    def __init__(self, block, layers, dropout_rate=0, in_channels=3):
        super().__init__()
        self.inplanes = 16
        self.dropout_rate = dropout_rate
        self.feature_num = 64
        self.conv1 = nn.Conv2d(in_channels, 16, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = self._make_layer(block, 16, layers[0])
        self.layer2 = self._make_layer(block, 32, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 64, layers[2], stride=2)
        self.avgpool = nn.AvgPool2d(8, stride=1)

    def _make_layer(self, block, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * block.expansion, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample, dropout_rate=self.dropout_rate)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes, dropout_rate=self.dropout_rate))
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        x = self.avgpool(x)
        return x.view(x.size(0), -1)


class full_layer(nn.Module):  # the authors' train.py: the classifier on top of the features
    def __init__(self, feature_num, class_num):
        super().__init__()
        self.class_num = class_num
        self.fc = nn.Linear(feature_num, class_num)

    def forward(self, x):
        return self.fc(x)


class AuthorsResNetWithHead(ResNet_Cifar):
    def __init__(self, depth, num_classes, in_channels=3):
        n = (depth - 2) // 6
        super().__init__(BasicBlock, [n, n, n], in_channels=in_channels)
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        return self.fc(super().forward(x))


# ---- torchvision's ResNet (torchvision/models/resnet.py, v0.14), for machines without it ----

class TvBottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64):
        super().__init__()
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = nn.Conv2d(inplanes, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, groups=groups, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class TvResNet(nn.Module):
    def __init__(self, layers, num_classes=1000, groups=1, width_per_group=64):
        super().__init__()
        self.inplanes = 64
        self.groups = groups
        self.base_width = width_per_group
        self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(64, layers[0])
        self.layer2 = self._make_layer(128, layers[1], stride=2)
        self.layer3 = self._make_layer(256, layers[2], stride=2)
        self.layer4 = self._make_layer(512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * TvBottleneck.expansion, num_classes)

    def _make_layer(self, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * TvBottleneck.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * TvBottleneck.expansion, 1, stride, bias=False),
                nn.BatchNorm2d(planes * TvBottleneck.expansion))
        layers = [TvBottleneck(self.inplanes, planes, stride, downsample, self.groups, self.base_width)]
        self.inplanes = planes * TvBottleneck.expansion
        for _ in range(1, blocks):
            layers.append(TvBottleneck(self.inplanes, planes, groups=self.groups, base_width=self.base_width))
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


FALLBACK_TORCHVISION = {
    "resnet50": lambda c: TvResNet([3, 4, 6, 3], c),
    "resnet152": lambda c: TvResNet([3, 8, 36, 3], c),
    "resnext50_32x4d": lambda c: TvResNet([3, 4, 6, 3], c, groups=32, width_per_group=4),
}


def torchvision_model(name, num_classes):
    if torchvision is not None:
        return getattr(torchvision.models, name)(num_classes=num_classes)
    return FALLBACK_TORCHVISION[name](num_classes)


# ---- the check ----

class Failed(Exception):
    pass


def expect(condition, message):
    if not condition:
        raise Failed(message)


def run(args, what):
    started = time.monotonic()
    result = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if result.returncode != 0:
        raise Failed(f"{what} exited {result.returncode}: {result.stderr.strip()}")
    print(f"  {what}: {time.monotonic() - started:.1f}s")
    return result.stdout


def write_synthetic_cifar10(root, per_batch, test_count, seed=3):
    """The official binary layout: records of 1 label byte + 1024 R, 1024 G, 1024 B bytes. Each class
    is a colour plus noise, so that an epoch learns something but not everything."""
    rng = np.random.RandomState(seed)
    colours = np.repeat(rng.randint(32, 224, size=(10, 3)).astype(np.float64), 1024, axis=1)
    os.makedirs(root)

    def write(name, count):
        labels = rng.randint(0, 10, size=count)
        noise = rng.normal(0, 60, size=(count, 3072))
        pixels = np.clip(colours[labels] + noise, 0, 255).astype(np.uint8)
        records = np.concatenate([labels.astype(np.uint8)[:, None], pixels], axis=1)
        with open(os.path.join(root, name), "wb") as f:
            f.write(records.tobytes())

    for b in range(1, 6):
        write(f"data_batch_{b}.bin", per_batch)
    write("test_batch.bin", test_count)


def read_test_images(root, description):
    """test_batch.bin read and normalised here, as a user would, with the export's normalisation."""
    raw = np.fromfile(os.path.join(root, "test_batch.bin"), dtype=np.uint8).reshape(-1, 3073)
    labels = torch.from_numpy(raw[:, 0].astype(np.int64))
    images = torch.from_numpy(raw[:, 1:].reshape(-1, 3, 32, 32).copy()).float() / 255
    mean = torch.tensor(description["normalization"]["mean"], dtype=torch.float32).view(1, -1, 1, 1)
    std = torch.tensor(description["normalization"]["std"], dtype=torch.float32).view(1, -1, 1, 1)
    return (images - mean) / std, labels


def load_strict(model, state_dict, what):
    expect(isinstance(state_dict, dict), f"{what}: torch.load gave a {type(state_dict).__name__}, not a dict")
    expect(all(isinstance(v, torch.Tensor) for v in state_dict.values()), f"{what}: not every value is a tensor")
    reference = list(model.state_dict().keys())
    names = list(state_dict.keys())
    missing = [n for n in reference if n not in state_dict]
    unexpected = [n for n in names if n not in model.state_dict()]
    expect(not missing and not unexpected, f"{what}: missing {missing[:5]}, unexpected {unexpected[:5]}")
    expect(names == reference, f"{what}: the names are the reference's but not in its state_dict order")
    model.load_state_dict(state_dict, strict=True)
    model.eval()


def compare_logits(ours, suite, what):
    """The largest absolute difference of two (N, classes) logits, which must be within LOGIT_TOLERANCE."""
    expect(ours.shape == suite.shape, f"{what}: logits of shape {tuple(ours.shape)}, the suite's {tuple(suite.shape)}")
    difference = (ours - suite).abs().max().item()
    expect(difference <= LOGIT_TOLERANCE, f"{what}: logits differ from the suite's by {difference:.3g} > {LOGIT_TOLERANCE}")
    return difference


def check_trained_run(work, tools, data_root, name, extra_args, reference):
    print(f"{name}:")
    run_dir = os.path.join(work, name)
    run([tools.isda_train, "--dataset", "cifar10", "--data-root", data_root, "--model", name, "--method", "isda",
         "--epochs", "1", "--batch-size", "50", "--lr", "0.05", "--augment", "standard", "--seed", "1",
         "--device", "cpu", "--threads", "1", "--run-dir", run_dir] + extra_args, "isda-train (1 epoch)")
    out = os.path.join(work, name + ".pt")
    printed = run([tools.isda_train, "--export", run_dir, out], "isda-train --export")
    expect(printed.startswith(f"exported: {name} "), f"--export printed {printed!r}")
    with open(os.path.join(work, name + ".json")) as f:
        description = json.load(f)

    # What a user writes: torch.load, load_state_dict(strict=True), eval.
    state_dict = torch.load(out)
    model = reference(description["num_classes"])
    load_strict(model, state_dict, name)

    suite_dump = os.path.join(work, name + "_suite_logits.pt")
    run([tools.helper, "logits", run_dir, suite_dump], "suite logits")
    suite = torch.load(suite_dump)
    inputs, labels = read_test_images(data_root, description)
    with open(os.path.join(run_dir, "config.json")) as f:
        test_limit = json.load(f).get("test_limit", 0)
    if test_limit > 0:  # the run tested on the first test_limit images
        inputs, labels = inputs[:test_limit], labels[:test_limit]
    input_difference = (inputs - suite["inputs"]).abs().max().item()
    expect(input_difference <= 1e-6, f"{name}: test images normalised here differ from the suite's by {input_difference}")
    expect(torch.equal(labels, suite["labels"]), f"{name}: labels differ from the suite's")

    with torch.no_grad():
        logits = model(suite["inputs"])
        own_logits = model(inputs)
    difference = compare_logits(logits, suite["logits"], name)
    compare_logits(own_logits, suite["logits"], name + " (images read here)")

    with open(os.path.join(run_dir, "result.json")) as f:
        recorded = json.load(f)["final_test_error"]
    wrong = (logits.argmax(1) != labels).sum().item()
    error = 100.0 * wrong / labels.numel()
    expect(error == recorded, f"{name}: test error {error} here, {recorded} recorded by the run")
    expect((own_logits.argmax(1) != labels).sum().item() == wrong, f"{name}: images read here give another error")
    print(f"  {len(state_dict)} tensors, {labels.numel()} test images: logits within {difference:.2g} of the suite's, "
          f"test error {error:.2f}% = the run's {recorded:.2f}% ({wrong} wrong)")


def check_fresh(work, tools, name, classes, size, reference):
    state = os.path.join(work, name + "_fresh.pt")
    io = os.path.join(work, name + "_fresh_io.pt")
    run([tools.helper, "fresh", name, str(classes), "3", str(size), state, io], f"{name} (untrained)")
    state_dict = torch.load(state)
    model = reference
    load_strict(model, state_dict, name)
    suite = torch.load(io)
    with torch.no_grad():
        difference = compare_logits(model(suite["inputs"]), suite["logits"], name)
    print(f"    {len(state_dict)} tensors load strictly; logits (largest {suite['logits'].abs().max().item():.3g}) "
          f"within {difference:.2g} of the suite's")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--isda-train", dest="isda_train", required=True)
    parser.add_argument("--helper", required=True)
    parser.add_argument("--keep", help="work in this directory and keep it")
    tools = parser.parse_args()
    torch.set_num_threads(1)  # 2 threads on 2 busy cores spin at every barrier
    started = time.monotonic()
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__ if torchvision else 'absent (its definition here)'}")
    work = tools.keep or tempfile.mkdtemp(prefix="isda-export-check-")
    try:
        data_root = os.path.join(work, "cifar10")
        write_synthetic_cifar10(data_root, per_batch=100, test_count=200)
        check_trained_run(work, tools, data_root, "resnet8", [],
                          lambda classes: AuthorsResNetWithHead(8, classes))
        check_trained_run(work, tools, data_root, "resnet50", ["--train-limit", "100", "--batch-size", "25", "--test-limit", "100", "--covariance", "diagonal"],
                          lambda classes: torchvision_model("resnet50", classes))

        # The authors' code as it is: features and the final layer as two modules, each strict.
        state_dict = torch.load(os.path.join(work, "resnet8.pt"))
        features, head = ResNet_Cifar(BasicBlock, [1, 1, 1]), full_layer(64, 10)
        features.load_state_dict({k: v for k, v in state_dict.items() if not k.startswith("fc.")}, strict=True)
        head.load_state_dict({k: v for k, v in state_dict.items() if k.startswith("fc.")}, strict=True)
        print("resnet8 also loads into the authors' ResNet_Cifar + full_layer pair, each strictly")

        print("untrained networks:")
        for depth in (20, 32, 44, 56, 110):
            check_fresh(work, tools, f"resnet{depth}", 10, 32, AuthorsResNetWithHead(depth, 10))
        for name in ("resnet152", "resnext50_32x4d"):
            check_fresh(work, tools, name, 10, 32, torchvision_model(name, 10))
        if torchvision is not None:  # the fallback definition above names what torchvision names
            for name, make in FALLBACK_TORCHVISION.items():
                ours = {k: tuple(v.shape) for k, v in make(10).state_dict().items()}
                theirs = {k: tuple(v.shape) for k, v in torchvision_model(name, 10).state_dict().items()}
                expect(list(ours.items()) == list(theirs.items()), f"the fallback {name} differs from torchvision's")
    except Failed as failure:
        print(f"FAILED: {failure}")
        return 1
    finally:
        if not tools.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"passed in {time.monotonic() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
