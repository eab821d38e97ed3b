package admin

// handleChanges registers the routes that change the cluster: topics
// created, changed and deleted, groups reset and deleted. Each is
// audited (see audited). Their methods are not GET, so that a token's
// scope for them is told from the method and path alone.
func (h *Handler) handleChanges() {
	h.handle("POST /kafka/topics", h.audited(ActionCreateTopic, h.createTopic))
	h.handle("PATCH /kafka/topics/{topic}", h.audited(ActionUpdateTopic, h.updateTopic))
	h.handle("DELETE /kafka/topics/{topic}", h.audited(ActionDeleteTopic, h.deleteTopic))
	h.handle("POST /kafka/groups/{group}/reset", h.audited(ActionResetOffsets, h.resetGroup))
	h.handle("DELETE /kafka/groups/{group}", h.audited(ActionDeleteGroup, h.deleteGroup))
}
