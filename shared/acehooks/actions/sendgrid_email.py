"""The ``sendgridEmail`` action: send one email through SendGrid, with plain content or a dynamic template.

Every field is a value spec (see ``acehooks.values``). The email is sent
when the action runs, before its record is committed, so it is
at-least-once: a worker that stops after SendGrid accepted the message and
before the record was written sends it again on the next attempt.
"""

from .. import sendgrid_mail, values
from ..config import SendgridEmailAction
from ..errors import PermanentError
from .context import ActionContext


def _text(context: ActionContext, field: str, spec, required: bool = False) -> str | None:
    """Resolve a spec that must give a string; numbers become their text, an unset spec or missing value None."""
    if spec is None:
        return None
    value = values.resolve(spec, context.model, context.payload)
    if value is None or value == "":
        if required:
            raise PermanentError(f"{field} {spec!r} resolved to nothing for this event; map it to a model field "
                                 "the event has, or mark that field required")
        return None
    if isinstance(value, (dict, list)):
        raise PermanentError(f"{field} {spec!r} resolved to a {type(value).__name__}; map it to a text value")
    return str(value)


def build(action: SendgridEmailAction, context: ActionContext) -> dict:
    """Return the v3 mail send body for this event; raises PermanentError for a value SendGrid would reject."""
    to = sendgrid_mail.recipient_list(values.resolve(action.to, context.model, context.payload))
    template_data = {name: values.resolve(spec, context.model, context.payload)
                     for name, spec in action.template_data.items()}
    return sendgrid_mail.build_message(
        to,
        sender=_text(context, "from", action.from_),
        sender_name=_text(context, "fromName", action.from_name),
        reply_to=_text(context, "replyTo", action.reply_to),
        subject=_text(context, "subject", action.subject, required=action.template_id is None),
        text=_text(context, "text", action.text),
        html=_text(context, "html", action.html),
        template_id=_text(context, "templateId", action.template_id, required=True),
        template_data=template_data,
        # Sent back by SendGrid's event webhook, so delivery events can be matched to this event and action.
        custom_args={"acehooksEvent": context.doc_id, "acehooksAction": context.action_id},
    )


def run(action: SendgridEmailAction, context: ActionContext, writes) -> dict:
    """Send the email and return SendGrid's status and message id; raises as send_message does."""
    message = build(action, context)
    if "content" in message and not message["content"]:
        raise PermanentError("text and html both resolved to nothing for this event; the email would be empty")

    recipients = len(message["personalizations"][0]["to"])
    result = sendgrid_mail.send_message(message, api_key_env=action.api_key_env)
    context.logger.info("SendGrid accepted the email for %d recipient(s)", recipients,
                        extra={"reason": "email_sent"})
    result["recipients"] = recipients
    if "template_id" in message:
        result["templateId"] = message["template_id"]
    return result
