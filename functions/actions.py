"""Custom actions, registered by name for the ``customAction`` action type."""

from acehooks import ActionContext, PermanentError, action
from acehooks.sendgrid_mail import send_mail


@action("sendConfirmationEmail")
def send_confirmation_email(context: ActionContext) -> dict:
    """Email the customer a payment confirmation.

    Params: ``email`` (required), ``amountTotal`` in the currency's minor
    unit, and ``currency``.
    """
    email = context.params.get("email")
    if not email:
        raise PermanentError("param email is empty; map it to the customer's email address")

    amount = context.params.get("amountTotal")
    currency = (context.params.get("currency") or "").upper()
    # NOTE: assumes a currency with two decimal places; zero-decimal currencies such as JPY read 100 times too small.
    total = f"{amount / 100:.2f} {currency}".strip() if isinstance(amount, (int, float)) else "your order"

    text = f"Thank you for your payment of {total}.\nReference: {context.event_id}\n"
    return send_mail(to=email, subject="Payment received", text=text)
