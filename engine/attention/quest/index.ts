// Quest's face: the GPU policy and the CPU reference of its selection.
export { QuestPolicy, createQuestPolicy } from './policy.ts';
export {
  questPageBounds, questPageScores, questPagesRead, questPagesToRead, questParams, questPlanPages, type QuestPageBounds, type QuestParams,
} from './reference.ts';
