# Loaded by every config: registers lkssl_mm's modules (backbones, DINO, hooks, ...),
# and builds the runner through RunLengthRunner, which is mmengine's Runner plus one
# option: --cfg-options run_length.epochs=N (or run_length.iters=N) sets the run length
# and rescales every schedule to it, with the libraries' own tools/train.py too.
custom_imports = dict(imports=['lkssl_mm'], allow_failed_imports=False)
runner_type = 'RunLengthRunner'
