"""Image loading that refuses corrupt and truncated files."""
from typing import Optional

import mmcv
import numpy as np
from mmcv.transforms import LoadImageFromFile
from mmengine import fileio
from mmengine.logging import print_log
from mmengine.registry import TRANSFORMS


class CorruptImageError(RuntimeError):
    """An image file that cannot be used (named in the message)."""


def image_bytes_problem(data: bytes) -> Optional[str]:
    """Why these image bytes are unusable, or None if they look whole.

    OpenCV decodes a truncated JPEG without an error (the missing rows come
    out grey), so JPEG and PNG files are also checked for their end marker.
    """
    if not data:
        return 'the file is empty'
    tail = data.rstrip(b'\x00')
    if data[:2] == b'\xff\xd8' and not tail.endswith(b'\xff\xd9'):
        return 'truncated JPEG (no end-of-image marker)'
    if data[:8] == b'\x89PNG\r\n\x1a\n' and not tail.endswith(b'IEND\xaeB`\x82'):
        return 'truncated PNG (no IEND chunk)'
    return None


@TRANSFORMS.register_module()
class StrictLoadImageFromFile(LoadImageFromFile):
    """``LoadImageFromFile`` that never hands a damaged image to training.

    A file that cannot be read, is truncated or cannot be decoded is logged
    with its path; within ``max_skips`` bad files (per data-loading process)
    the sample is dropped, which makes mmengine's dataset load another one,
    beyond that (and always with the default ``max_skips=0``, e.g. in
    evaluation) a :class:`CorruptImageError` naming the file stops the run.

    Args:
        max_skips (int): Bad files to skip before stopping. Defaults to 0.
        **kwargs: Arguments of mmcv's ``LoadImageFromFile``.
    """

    def __init__(self, max_skips: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.max_skips = max_skips
        self.skipped = 0

    def _read(self, filename: str) -> np.ndarray:
        try:
            data = fileio.get(filename, backend_args=self.backend_args)
        except OSError as error:
            raise CorruptImageError(f'cannot read image {filename}: {error}') from error
        problem = image_bytes_problem(data)
        img = None if problem else mmcv.imfrombytes(data, flag=self.color_type,
                                                    backend=self.imdecode_backend)
        if img is None:
            raise CorruptImageError(f'corrupt image {filename}: {problem or "cannot be decoded"}')
        return img

    def transform(self, results: dict) -> Optional[dict]:
        try:
            img = self._read(results['img_path'])
        except CorruptImageError as error:
            if self.skipped >= self.max_skips:
                raise CorruptImageError(f'{error} (skip budget max_skips={self.max_skips} '
                                        'used up)') from error
            self.skipped += 1
            print_log(f'{error}; skipped ({self.skipped}/{self.max_skips} allowed)',
                      logger='current', level=30)
            return None
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results
