package events

// RecentEvents is how many events a hub keeps for SubscribeFrom.
const RecentEvents = recentEvents

// SubscriberBuffer is how many live events a subscriber may lag behind.
const SubscriberBuffer = subscriberBuffer

// MaxTextBytes bounds progress stage and message in a NOTIFY payload.
const MaxTextBytes = maxTextBytes
