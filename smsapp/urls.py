"""Every route of the app. Each view module keeps its own `urlpatterns`; the JSON API and
the webhooks live under the original Canvas plugin's public prefix (API_PREFIX in
smsapp.http), so a proxy or the plugin can forward paths unchanged."""

from smsapp import api, embed, pages, webhooks

app_name = "smsapp"
# Webhooks first: Twilio calls them most often, and URL resolution stops at the first match.
urlpatterns = [*webhooks.urlpatterns, *api.urlpatterns, *pages.urlpatterns, *embed.urlpatterns]
