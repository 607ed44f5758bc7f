{
    "name": "Sandbox Hello",
    "summary": "A tiny module that shows a k8s-dev-sandbox preview runs the repository's code",
    "version": "18.0.1.0.0",
    "category": "Hidden",
    "license": "LGPL-3",
    "author": "k8s-dev-sandbox",
    "depends": ["base"],
    "data": [
        "security/ir.model.access.csv",
        "views/sandbox_hello_views.xml",
    ],
    "installable": True,
    "application": False,
}
