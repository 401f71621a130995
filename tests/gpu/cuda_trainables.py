"""Trainables for `test_cuda_devices.py`, in their own module: a worker process imports them by name, and
this module must import there whatever that worker's GPUs (the test module skips itself without one)."""
import os

import tunelab as tune


def device_probe(config, reporter):
    """Trains a tiny regression on whatever CUDA device the trial was given, and says what it saw."""
    import os
    import time

    import torch

    start = time.time()
    seen = torch.cuda.device_count() if torch.cuda.is_available() else 0
    info = {"cuda_visible": os.environ.get("CUDA_VISIBLE_DEVICES"), "device_count": seen}
    if seen:
        props = torch.cuda.get_device_properties(0)
        info.update(device_name=props.name, device_uuid=str(props.uuid))
        torch.manual_seed(0)
        x = torch.randn(4096, 32, device="cuda")
        y = x @ torch.randn(32, 1, device="cuda")
        model = torch.nn.Linear(32, 1).cuda()
        opt = torch.optim.SGD(model.parameters(), lr=0.05)
        first = None
        for _ in range(100):
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(model(x), y)
            loss.backward()
            opt.step()
            first = first if first is not None else loss.item()
        info.update(first_loss=first, final_loss=loss.item(), on_cuda=next(model.parameters()).is_cuda)
        if config.get("barrier"):  # hold GPU memory until every sibling trial holds some too
            held = torch.empty(config.get("hold_mb", 256) * 2 ** 18, device="cuda")  # float32: 4 bytes each
            open(os.path.join(config["barrier"], f"{config['n']}.ready"), "w").close()
            deadline = time.time() + 60
            while len(os.listdir(config["barrier"])) < config["siblings"] and time.time() < deadline:
                time.sleep(0.01)
            info["siblings_seen"] = len(os.listdir(config["barrier"]))
            info["held_mb"] = held.numel() * 4 // 2 ** 20
    time.sleep(config.get("sleep", 0))
    reporter(start=start, end=time.time(), done=True, **info)


def out_of_memory(config, reporter):
    import torch

    reporter(step=1)
    if config["greedy"]:
        torch.empty(2 ** 50, dtype=torch.uint8, device="cuda")  # a petabyte: CUDA runs out of memory
    reporter(step=2, done=True)


class CudaRegression(tune.Trainable):
    """A class trainable whose model lives on the GPU and checkpoints through `torch.save`."""

    def _setup(self, config):
        import torch

        torch.manual_seed(0)
        self.x = torch.randn(2048, 16, device="cuda")
        self.y = self.x @ torch.linspace(-1, 1, 16, device="cuda").unsqueeze(1)
        self.model = torch.nn.Linear(16, 1).cuda()
        self.opt = torch.optim.SGD(self.model.parameters(), lr=config["lr"])

    def _train(self):
        import time

        import torch

        time.sleep(self.config.get("step_s", 0))  # slow enough for the population to overlap in time
        for _ in range(10):
            self.opt.zero_grad()
            loss = torch.nn.functional.mse_loss(self.model(self.x), self.y)
            loss.backward()
            self.opt.step()
        return {"neg_loss": -loss.item()}

    def _save(self, checkpoint_dir):
        import torch

        path = os.path.join(checkpoint_dir, "model.pt")
        torch.save({"model": self.model.state_dict(), "opt": self.opt.state_dict()}, path)
        return path

    def _restore(self, path):
        import torch

        state = torch.load(path, map_location="cuda")
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["opt"])

    def reset_config(self, new_config):
        for group in self.opt.param_groups:
            group["lr"] = new_config["lr"]
        self.config = new_config
        return True
