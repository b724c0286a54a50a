import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cluster_nodes import LarderCluster, RedisCluster  # noqa: E402


@pytest.fixture(scope="module")
def larder_cluster():
    c = LarderCluster(3).start()
    yield c
    c.stop()


@pytest.fixture(scope="module")
def redis_cluster():
    c = RedisCluster(3).start()
    yield c
    c.stop()
