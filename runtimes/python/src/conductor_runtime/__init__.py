"""Conductor's Python runtime: declare workflow nodes as typed functions with ``@node``.

```python
from conductor_runtime import Context, NodeFailure, node

@node("py.add-one", deterministic=True)
def add_one(x: int) -> int:
    return x + 1
```

The host serves them with ``python -m conductor_runtime --module your.module``.
"""

from ._cancel import CancelToken
from ._constants import VERSION
from ._context import Context, NodeLogger
from ._failure import NodeFailure
from ._node import Executor, NodeDefinition, node
from ._stream import AsyncStream, Checkpoint, Stream, StreamResume, checkpoint
from ._stream_input import UpstreamFailure

__version__ = VERSION

__all__ = [
    "AsyncStream",
    "CancelToken",
    "Checkpoint",
    "Context",
    "Executor",
    "NodeDefinition",
    "NodeFailure",
    "NodeLogger",
    "Stream",
    "StreamResume",
    "UpstreamFailure",
    "__version__",
    "checkpoint",
    "node",
]
