# For a model config with its own optimiser (loaded through `_base_`, not a model of its own): the
# runtime's SGD optim_wrapper is replaced (`_delete_`) by a plain OptimWrapper; the model file adds its
# `optimizer` (and `paramwise_cfg`).
optim_wrapper = dict(_delete_=True, type='OptimWrapper')
