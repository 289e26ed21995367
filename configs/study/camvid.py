# The trained-weights study on CamVid (../shared/data/camvid or CAMVID_ROOT; 367 train / 101 val
# images, 11 classes): what each method does to a model that has learned something.
#   python tools/study/run_study.py configs/study/camvid.py
# Resumable and idempotent: each step works in <work_root>/<name>/ and is finished when its
# result.json exists; an interrupted training resumes from its last checkpoint. Schedules are
# sized for the 2-core CPU (arithmetic in docs/study.md). Nothing is tuned on CamVid val: every
# setting comes from the papers or was fixed before any val figure was seen.
work_root = '{{$STUDY_WORK_DIR:~/mmeffseg-work/study-camvid}}'
threads = 2

_segmenter = 'configs/segmenter/segmenter_vit-t_mask_1xb8-3k_camvid-360x480.py'
_control = 'configs/segmenter/segmenter_vit-t_mask_1xb8-300i-ft_camvid-360x480.py'
_algm = 'configs/algm/algm_segmenter_vit-t_mask_1xb8-300i-ft_camvid-360x480.py'
_pruning = 'configs/token_pruning/token-pruning_segmenter_vit-t_mask_1xb8-300i-ft_camvid-360x480.py'
_mask2former = 'configs/mask2former/mask2former_r18-lite_1xb4-2k_camvid-semantic-360x480.py'
# Every evaluation: the 101 val images at 360x480 for quality and FLOPs, per-class IoU, batch-1
# latency on the first 8 val images (1 warm-up + 5 timed forwards, models interleaved).
_eval = dict(kind='report', num_images=101, warmup=1, repeats=5,
             cfg_options={'test_evaluator.type': 'ClassIoUMetric'})
_taus = [0.80, 0.84, 0.88, 0.90, 0.92, 0.94, 0.96]

steps = [
    # 1. Segmenter ViT-T from scratch (val mIoU every 500 iterations shows the plateau).
    dict(name='segmenter', kind='train', config=_segmenter, seed=0, est_minutes=90),
    # 2. ALGM on step 1's weights with no retraining: a tau sweep (paper's ViT-Ti tau: 0.90).
    dict(_eval, name='algm_no_retrain', part='backbone', reference='segmenter',
         title='ALGM on the trained Segmenter ViT-T, no retraining (tau sweep)',
         curve=[f'tau_{t:.2f}' for t in _taus],
         models=[dict(name='segmenter', label='Segmenter ViT-T (step 1)', config=_segmenter,
                      checkpoint='@segmenter')] + [
             dict(name=f'tau_{t:.2f}', label=f'ALGM tau {t:.2f}', config=_algm,
                  checkpoint='@segmenter',
                  cfg_options={'model.backbone.reducers.0.tau': t}) for t in _taus],
         est_minutes=12),
    # 3. ALGM fine-tuned from step 1, and the control: the same 300 iterations without merging,
    #    two seeds (their spread is the noise band).
    dict(name='control_s0', kind='train', config=_control, load_from='@segmenter', seed=0,
         est_minutes=9),
    dict(name='control_s1', kind='train', config=_control, load_from='@segmenter', seed=1,
         est_minutes=9),
    dict(name='algm_ft', kind='train', config=_algm, load_from='@segmenter', seed=0,
         est_minutes=7),
    # 4. Token pruning stage 2 from step 1 (selectors + keep-ratio loss), same schedule.
    dict(name='pruning_ft', kind='train', config=_pruning, load_from='@segmenter', seed=0,
         est_minutes=9),
    dict(_eval, name='segmenter_methods', part='backbone', reference='control_s0',
         noise=['control_s0', 'control_s1'],
         title='Segmenter ViT-T host: methods fine-tuned from step 1 vs the control',
         models=[
             dict(name='control_s0', label='control (seed 0)', config=_control,
                  checkpoint='@control_s0'),
             dict(name='control_s1', label='control (seed 1)', config=_control,
                  checkpoint='@control_s1'),
             dict(name='segmenter', label='step 1 (no fine-tune)', config=_segmenter,
                  checkpoint='@segmenter'),
             dict(name='algm_ft', label='ALGM fine-tuned (tau 0.90)', config=_algm,
                  checkpoint='@algm_ft'),
             dict(name='pruning_ft', label='token pruning fine-tuned', config=_pruning,
                  checkpoint='@pruning_ft'),
         ],
         est_minutes=8),
    # 5. mmseg's Mask2Former R18-lite from scratch.
    dict(name='mask2former', kind='train', config=_mask2former, seed=0,
         cpu_deform_attn='gather', est_minutes=130),
]

summary = dict(
    title='CamVid study: each method on trained weights',
    json='docs/results/camvid_study.json',
    markdown='docs/results/camvid_study.md',
    figures='docs/figures/study',
    machine='the 2-core CPU development machine (no GPU), OMP_NUM_THREADS=2',
    intro="""
Every model here was trained from scratch on CamVid train (367 images) by this study; quality is
CamVid val (101 images, 360x480, 11 classes, void ignored). Methods are compared with a control
fine-tuned for the same iterations, not with their starting point. See docs/study.md for the
schedule arithmetic and how to rerun or resume it.""")
