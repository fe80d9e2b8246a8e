"""Set-up shared by the tests and the doctests of ``matching/``.

Texts are in English unless a test asks for Chinese: without this, the
language would follow the machine's locale (``matching.i18n``).
"""

import os

os.environ["LANGUAGE"] = "en"
