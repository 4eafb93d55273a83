export { AfricasTalkingSms, type AfricasTalkingSmsOptions } from './sms-sender';
export {
  DELIVERY_FAILURE_REASONS,
  DELIVERY_STATUSES,
  formatUssdReply,
  isFinalDeliveryStatus,
  isKnownDeliveryStatus,
  parseDeliveryReport,
  parseIncomingSms,
  parseUssdHop,
  parseUssdSessionEnded,
  parseUtcDateTime,
  type DeliveryFailureReason,
  type DeliveryStatus,
  type FormBody,
} from './inbound';
