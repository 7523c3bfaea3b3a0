"""Log-in and password pages with the wallet's forms: log in with an e-mail address or a
mobile number in any common form; a reset link by e-mail or by text message. The rest of
django.contrib.auth.urls (logout, password change, reset confirm) follows in config/urls."""

from django.contrib.auth import views as auth_views
from django.urls import path

from wallet.forms import WalletLoginForm, WalletPasswordResetForm

urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(authentication_form=WalletLoginForm),
        name="login",
    ),
    path(
        "password_reset/",
        auth_views.PasswordResetView.as_view(form_class=WalletPasswordResetForm),
        name="password_reset",
    ),
]
