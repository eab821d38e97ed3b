// Package balancer holds consumer group balancers that franz-go does not
// ship, so that a kafkakit member can share a group with members of other
// clients: [KafkajsRoundRobin] speaks kafkajs's default assigner; and
// those kafkakit needs itself: [Colocated] keeps a partition number of
// every topic on one member, cooperatively, for retry topics.
package balancer
