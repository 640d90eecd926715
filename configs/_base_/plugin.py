# Loaded by every config: registers lkssl_mm's modules (backbones, DINO, hooks, ...).
custom_imports = dict(imports=['lkssl_mm'], allow_failed_imports=False)
