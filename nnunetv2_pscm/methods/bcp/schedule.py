"""nnU-Net's poly learning rate, restarted when self-training begins.

BCP restarts its optimizer between pretraining and self-training. nnU-Net steps its scheduler once per epoch with
the epoch number, so a restart is a poly decay over [0, restart) and another over [restart, total)."""
from typing import Callable


class RestartedPolyLR:
    def __init__(self, optimizer, initial_lr: float, total_epochs: int, restart_epoch: Callable[[], int],
                 exponent: float = 0.9):
        self.optimizer, self.initial_lr, self.total_epochs = optimizer, initial_lr, total_epochs
        self.restart_epoch, self.exponent = restart_epoch, exponent

    def lr_at(self, epoch: int) -> float:
        restart = self.restart_epoch()
        start, length = (0, restart) if epoch < restart else (restart, self.total_epochs - restart)
        return self.initial_lr * (1 - (epoch - start) / max(length, 1)) ** self.exponent

    def step(self, epoch: int) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr_at(epoch)
