/** Test payloads in the shape of Pipes.bot's webhook deliveries (docs/protocol.md). */

/** A Pipes webhook body (Meta's shape + `pipes`) around one Meta message object. */
export function webhookBody(message: Record<string, unknown>, pipes: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    object: "whatsapp_business_account",
    entry: [
      {
        id: "pn_9",
        changes: [
          {
            field: "messages",
            value: {
              messaging_product: "whatsapp",
              metadata: { display_phone_number: "+15550009999", phone_number_id: "pn_9" },
              messages: [{ id: "msg_77", from: "15550001111", timestamp: "2026-03-01T09:00:00.000Z", ...message }],
              contacts: [{ profile: { name: "Ana" }, wa_id: "15550001111" }],
            },
          },
        ],
      },
    ],
    pipes: { conversationId: "conv_a1", poolNumberId: "pn_9", label: "home", ...pipes },
  };
}
