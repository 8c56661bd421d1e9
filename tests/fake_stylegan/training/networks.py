"""Tiny networks with StyleGAN2/3's attribute names and call signatures."""

import torch
from torch import nn
from torch_utils import persistence


@persistence.persistent_class
class MappingNetwork(nn.Module):
    def __init__(self, z_dim, c_dim, w_dim, num_ws, per_class_avg=False):
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim, self.num_ws = z_dim, c_dim, w_dim, num_ws
        self.fc = nn.Linear(z_dim + c_dim, w_dim)
        shape = [c_dim, w_dim] if per_class_avg else [w_dim]
        self.register_buffer("w_avg", torch.randn(shape))

    def forward(self, z, c, truncation_psi=1, truncation_cutoff=None, update_emas=False):
        x = z if self.c_dim == 0 else torch.cat([z, c], dim=1)
        w = torch.nn.functional.leaky_relu(self.fc(x), 0.2)
        return w.unsqueeze(1).repeat(1, self.num_ws, 1)


@persistence.persistent_class
class SynthesisNetwork(nn.Module):
    def __init__(self, w_dim, img_resolution, img_channels, num_ws):
        super().__init__()
        self.w_dim, self.img_resolution, self.img_channels = w_dim, img_resolution, img_channels
        self.num_ws = num_ws
        self.fc = nn.Linear(w_dim * num_ws, img_channels * img_resolution**2)
        self.register_buffer(
            "const_noise", torch.randn(img_channels, img_resolution, img_resolution)
        )

    def forward(self, ws, noise_mode="random", **kwargs):
        x = self.fc(ws.flatten(1)).view(
            -1, self.img_channels, self.img_resolution, self.img_resolution
        )
        noise = torch.randn_like(x) if noise_mode == "random" else self.const_noise
        return torch.tanh(x + 0.1 * noise)


@persistence.persistent_class
class Generator(nn.Module):
    def __init__(self, z_dim, c_dim, w_dim, img_resolution, img_channels, per_class_avg=False):
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim = z_dim, c_dim, w_dim
        self.img_resolution, self.img_channels = img_resolution, img_channels
        self.num_ws = 4
        self.synthesis = SynthesisNetwork(w_dim, img_resolution, img_channels, self.num_ws)
        self.mapping = MappingNetwork(z_dim, c_dim, w_dim, self.num_ws, per_class_avg)

    def forward(self, z, c, truncation_psi=1, truncation_cutoff=None, noise_mode="random"):
        return self.synthesis(self.mapping(z, c, truncation_psi), noise_mode=noise_mode)
