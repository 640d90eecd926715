"""Image loading that refuses corrupt and truncated files."""
import io
from typing import Optional

import mmcv
import numpy as np
from mmcv.transforms import LoadImageFromFile
from mmengine import fileio
from mmengine.logging import print_log
from mmengine.registry import TRANSFORMS
from PIL import Image, UnidentifiedImageError


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

    With ``defer_decode=True`` the file is read, checked and opened with
    Pillow, but its pixels are not decoded: ``img`` is a PIL image whose
    header has been read, for a transform that decodes it itself at the scale
    it needs (:class:`MultiCrop`), and ``on_corrupt_image`` is
    :meth:`skip_or_raise`, so that a file that fails there is skipped or
    stops the run under the same budget.

    Args:
        max_skips (int): Bad files to skip before stopping. Defaults to 0.
        defer_decode (bool): Open with Pillow and leave the decoding to a
            later transform. Defaults to False.
        **kwargs: Arguments of mmcv's ``LoadImageFromFile``.
    """

    def __init__(self, max_skips: int = 0, defer_decode: bool = False, **kwargs):
        super().__init__(**kwargs)
        if defer_decode and (self.color_type != 'color' or self.to_float32):
            raise ValueError('StrictLoadImageFromFile: defer_decode=True hands an undecoded RGB '
                             'PIL image to the next transform, so color_type must be '
                             f"'color' (got {self.color_type!r}) and to_float32 False (got "
                             f'{self.to_float32})')
        self.max_skips = max_skips
        self.defer_decode = defer_decode
        self.skipped = 0

    def _read(self, filename: str):
        try:
            data = fileio.get(filename, backend_args=self.backend_args)
        except OSError as error:
            raise CorruptImageError(f'cannot read image {filename}: {error}') from error
        problem = image_bytes_problem(data)
        if problem is None and self.defer_decode:
            try:
                return Image.open(io.BytesIO(data))
            except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
                problem = 'cannot be decoded'
        img = None if problem else mmcv.imfrombytes(data, flag=self.color_type,
                                                    backend=self.imdecode_backend)
        if img is None:
            raise CorruptImageError(f'corrupt image {filename}: {problem or "cannot be decoded"}')
        return img

    def skip_or_raise(self, error: CorruptImageError) -> None:
        """Within the skip budget log ``error`` and return None (drop the sample), else raise."""
        if self.skipped >= self.max_skips:
            raise CorruptImageError(f'{error} (skip budget max_skips={self.max_skips} '
                                    'used up)') from error
        self.skipped += 1
        print_log(f'{error}; skipped ({self.skipped}/{self.max_skips} allowed)',
                  logger='current', level=30)
        return None

    def transform(self, results: dict) -> Optional[dict]:
        try:
            img = self._read(results['img_path'])
        except CorruptImageError as error:
            return self.skip_or_raise(error)
        if isinstance(img, Image.Image):
            shape = img.size[::-1]
            results['on_corrupt_image'] = self.skip_or_raise  # for the decoding transform
        else:
            shape = img.shape[:2]
            if self.to_float32:
                img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = shape
        results['ori_shape'] = shape
        return results
