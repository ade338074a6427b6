"""Every figure of mlmon_nb, one module per area. Functions take results and return a
matplotlib Figure (titled, axes labelled with units); none calls ``show()``.

Areas register here with one import line each.
"""

from .common import CUR_COLOR, REF_COLOR, STATUS_COLORS  # noqa: F401
from .drift import *  # noqa: F401,F403
from .baseline import *  # noqa: F401,F403
from .operations import *  # noqa: F401,F403
from .trends import *  # noqa: F401,F403
from .explain import *  # noqa: F401,F403
from .feedback import *  # noqa: F401,F403
from .concept import *  # noqa: F401,F403
