from odoo_standin.release import DESCRIPTION as description  # noqa: F401
from odoo_standin.release import SERIE as serie  # noqa: F401
from odoo_standin.release import VERSION as version  # noqa: F401
from odoo_standin.release import VERSION_INFO as version_info  # noqa: F401

major_version = serie
product_name = "Odoo"
