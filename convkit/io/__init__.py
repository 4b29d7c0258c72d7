"""``convkit.save`` / ``convkit.load``: tensors, state dicts and optimizer state in
``.safetensors`` (the ``io`` extra) or ``.npz`` files, never pickle.

A flat ``{name: tensor}`` state dict is written as plain tensors (PyTorch's
``safetensors.torch.load_file`` reads it directly). Anything else (an optimizer's
``state_dict``: nested dicts, lists, tuples, numbers, strings, ``None``) is flattened: each
tensor is stored under its dotted path (``state.0.exp_avg``) and the rest of the structure is
kept as JSON, in the safetensors metadata or in an ``.npz`` entry.
"""

from convkit.io.serialization import load, save

__all__ = ["save", "load"]
