"""(to be written)"""

urlpatterns: list = []
