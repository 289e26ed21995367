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
_m2f_control = 'configs/mask2former/mask2former_r18-lite_1xb4-300i-ft_camvid-semantic-360x480.py'
_proscale = ('configs/proscale/'
             'proscale-333-trc-lpe_r18-lite_1xb4-300i-ft_camvid-semantic-360x480.py')
_proscale_scratch = ('configs/proscale/'
                     'proscale-333-trc-lpe_r18-lite_1xb4-2k_camvid-semantic-360x480.py')
_eco_parent = 'configs/ecom2f/ecom2f-parent_r18-lite_1xb4-300i-ft_camvid-semantic-360x480.py'
_eco_gate = 'configs/ecom2f/ecom2f-gate_r18-lite_1xb8-300i_camvid-semantic-360x480.py'
_algm_pruning = ('projects/algm_token_pruning/configs/'
                 'algm-token-pruning_segmenter_vit-t_mask_1xb8-300i-ft_camvid-360x480.py')
_pe_parent = ('projects/proscale_ecom2f/configs/'
              'proscale-333-ecom2f-parent_r18-lite_1xb4-300i-ft_camvid-semantic-360x480.py')
_pe_gate = ('projects/proscale_ecom2f/configs/'
            'proscale-333-ecom2f-gate_r18-lite_1xb8-300i_camvid-semantic-360x480.py')
# Every Mask2Former fine-tune starts from step 5 (ECO-M2F's config declares the gate the step-5
# checkpoint lacks; PRO-SCALE starts from step 5 converted to its encoder, `proscale_init`) with
# mmcv-free deformable attention on the CPU.
_m2f_train = dict(kind='train', load_from='@mask2former', cpu_deform_attn='gather')
# ECO-M2F gate betas, the papers' (COCO's small one, Cityscapes' two), fixed before any CamVid
# figure; the PRO-SCALE+ECO-M2F project trains one gate, at the middle one.
_betas = [0.0005, 0.003, 0.01]
_pe_beta = 0.003
_eco_exits = [f'ecom2f_exit_{k}' for k in (2, 3, 4, 5, 6)]
_eco_gates = [f'ecom2f_gate_{b}' for b in _betas]
_pe_exits = [f'proscale_ecom2f_exit_{k}' for k in (3, 6, 7, 8, 9)]
# Estimates of the steps whose time is not a training schedule (arithmetic in docs/study.md).
_est_table = 25
_est_gate = 6
_est_m2f_report = 35
_est_pe_report = 20
# Every evaluation: the 101 val images at 360x480 for quality and FLOPs, per-class IoU, batch-1
# latency on the first 8 val images (1 warm-up + 5 timed forwards, models interleaved).
_eval = dict(kind='report', num_images=101, warmup=1, repeats=5,
             cfg_options={'test_evaluator.type': 'ClassIoUMetric'})
_taus = [0.80, 0.84, 0.88, 0.90, 0.92, 0.94, 0.96]
# The Mask2Former reports: the same, with per-class IoU set per model (an ECO-M2F config's
# test_evaluator is a list: mIoU, then the exit statistics).
_m2f_eval = dict(kind='report', num_images=101, warmup=1, repeats=5, cpu_deform_attn='gather')
_iou = {'test_evaluator.type': 'ClassIoUMetric'}
_eco_iou = {'test_evaluator.0.type': 'ClassIoUMetric'}
# Token pictures of the fine-tuned Segmenters on three val images (fixed by name, chosen before
# any picture was seen): docs/figures/study/tokens_{algm,pruning}_trained.png are copies.
_camvid_val = '{{$CAMVID_ROOT:../shared/data/camvid}}/images/val'
_picture_images = [f'{_camvid_val}/0016E5_{i}.jpg' for i in ('07959', '08085', '08159')]
_tokens = ['tools/analysis_tools/visualize_tokens.py', '--images', *_picture_images,
           '--panel-scale', '0.75', '--out-dir', '{work_dir}']

steps = [
    # 1. Segmenter ViT-T from scratch (val mIoU every 500 iterations shows the plateau).
    dict(name='segmenter', kind='train', config=_segmenter, seed=0, est_minutes=90),
    #    Step 1 underfits its own training images (36.46 mIoU on the 367 train images, 28.95 on
    #    val; judged on train, docs/study.md "Segmenter: why 6000 iterations"), so it trains a
    #    second 3000-iteration cycle of the same recipe from its weights: 6000 iterations in all.
    #    Steps 2-4 and the ALGM + pruning project start from this model.
    dict(name='segmenter_6k', kind='train', config=_segmenter, load_from='@segmenter', seed=0,
         est_minutes=90),
    # 2. ALGM on step 1's weights with no retraining: a tau sweep (paper's ViT-Ti tau: 0.90).
    dict(_eval, name='algm_no_retrain', part='backbone', reference='segmenter_6k',
         title='ALGM on the trained Segmenter ViT-T, no retraining (tau sweep)',
         curve=[f'tau_{t:.2f}' for t in _taus],
         models=[dict(name='segmenter_6k', label='Segmenter ViT-T (step 1, 6000 it)',
                      config=_segmenter, checkpoint='@segmenter_6k')] + [
             dict(name=f'tau_{t:.2f}', label=f'ALGM tau {t:.2f}', config=_algm,
                  checkpoint='@segmenter_6k',
                  cfg_options={'model.backbone.reducers.0.tau': t}) for t in _taus],
         est_minutes=12),
    # 3. ALGM fine-tuned from step 1, and the control: the same 300 iterations without merging,
    #    two seeds (their spread is the noise band).
    dict(name='control_s0', kind='train', config=_control, load_from='@segmenter_6k', seed=0,
         est_minutes=9),
    dict(name='control_s1', kind='train', config=_control, load_from='@segmenter_6k', seed=1,
         est_minutes=9),
    dict(name='algm_ft', kind='train', config=_algm, load_from='@segmenter_6k', seed=0,
         est_minutes=7),
    # 4. Token pruning stage 2 from step 1 (selectors + keep-ratio loss), same schedule.
    dict(name='pruning_ft', kind='train', config=_pruning, load_from='@segmenter_6k', seed=0,
         est_minutes=9),
    dict(_eval, name='segmenter_methods', part='backbone', reference='control_s0',
         noise=['control_s0', 'control_s1'],
         title='Segmenter ViT-T host: methods fine-tuned from step 1 vs the control',
         models=[
             dict(name='control_s0', label='control (seed 0)', config=_control,
                  checkpoint='@control_s0'),
             dict(name='control_s1', label='control (seed 1)', config=_control,
                  checkpoint='@control_s1'),
             dict(name='segmenter_6k', label='step 1 (6000 it, no fine-tune)',
                  config=_segmenter, checkpoint='@segmenter_6k'),
             dict(name='algm_ft', label='ALGM fine-tuned (tau 0.90)', config=_algm,
                  checkpoint='@algm_ft'),
             dict(name='pruning_ft', label='token pruning fine-tuned', config=_pruning,
                  checkpoint='@pruning_ft'),
         ],
         est_minutes=8),
    dict(name='tokens_algm', kind='command', est_minutes=1,
         args=_tokens + [_algm, '--checkpoint', '@algm_ft',
                         '--combine', 'tokens_algm_trained.png'],
         outputs=dict(picture='{work_dir}/tokens_algm_trained.png')),
    dict(name='tokens_pruning', kind='command', est_minutes=1,
         args=_tokens + [_pruning, '--checkpoint', '@pruning_ft', '--layers', '3', '6', '9',
                         '--combine', 'tokens_pruning_trained.png'],
         outputs=dict(picture='{work_dir}/tokens_pruning_trained.png')),
    # 5. mmseg's Mask2Former R18-lite from scratch.
    dict(name='mask2former', kind='train', config=_mask2former, seed=0,
         cpu_deform_attn='gather', est_minutes=130),
    # 6. PRO-SCALE (3,3,3)+TRC+LPE fine-tuned from step 5, and the control: step 5 fine-tuned
    #    the same 300 iterations without the method, two seeds (the Mask2Former noise band).
    dict(_m2f_train, name='m2f_control_s0', config=_m2f_control, seed=0, est_minutes=20),
    dict(_m2f_train, name='m2f_control_s1', config=_m2f_control, seed=1, est_minutes=20),
    #    PRO-SCALE starts from step 5 converted to its 9-layer encoder (the converter's doc says
    #    which step-5 layer feeds which PRO-SCALE layer): every weight but TRC's comes from step 5.
    dict(name='proscale_init', kind='command', est_minutes=1,
         args=['tools/model_converters/mask2former_to_proscale.py', _proscale, '@mask2former',
               '{work_dir}/proscale_init.pth'],
         outputs=dict(checkpoint='{work_dir}/proscale_init.pth')),
    dict(_m2f_train, name='proscale_ft', config=_proscale, seed=0, est_minutes=20,
         load_from='@proscale_init:checkpoint'),
    # 7. ECO-M2F from step 5. Step A: the parent fine-tuned with a random exit 2..6 per
    #    iteration (loss x k), the control's schedule.
    dict(_m2f_train, name='ecom2f_parent', config=_eco_parent, seed=0, est_minutes=20),
    #    Step B: per-image mIoU of the parent at exits 2..6 on the 367 training images (the tool
    #    resumes an interrupted table from its partial files).
    dict(name='ecom2f_table', kind='command', est_minutes=_est_table,
         args=['tools/ecom2f/build_quality_table.py', _eco_parent, '@ecom2f_parent',
               '--metric', 'miou', '--out', '{work_dir}/quality_table_train.json',
               '--cpu-deform-attn', 'gather'],
         outputs=dict(table='{work_dir}/quality_table_train.json')),
    #    Step C: one gate per beta on the frozen parent (the release's recipe: AdamW 1e-4,
    #    batch 8; 300 iterations = 6.5 epochs).
] + [
    dict(name=f'ecom2f_gate_{_b}', kind='train', config=_eco_gate, seed=0,
         cpu_deform_attn='gather', load_from='@ecom2f_parent', est_minutes=_est_gate,
         cfg_options={'model.quality_table': '@ecom2f_table:table', 'model.beta': _b})
    for _b in _betas
] + [
    # One report for the Mask2Former host (steps 5-7): every model measured in one process,
    # latency interleaved. The host figure shows the pixel decoder's GFLOPs (the part PRO-SCALE
    # and ECO-M2F change); the view `ecom2f_gate_vs_exits` shows the encoder's expected GFLOPs
    # (mean over the val images of each image's exit) of the gates against the parent at fixed
    # exits 2..6, the comparison ECO-M2F's paper makes.
    dict(_m2f_eval, name='mask2former_methods', part='decode_head.pixel_decoder',
         reference='m2f_control_s0', noise=['m2f_control_s0', 'm2f_control_s1'],
         title='Mask2Former R18-lite host: methods fine-tuned from step 5 vs the control',
         curve=_eco_exits, curve_label='ECO-M2F parent at fixed exits 2..6',
         versus_curve=_eco_gates,
         models=[
             dict(name='m2f_control_s0', label='control (seed 0)', config=_m2f_control,
                  checkpoint='@m2f_control_s0', cfg_options=_iou),
             dict(name='m2f_control_s1', label='control (seed 1)', config=_m2f_control,
                  checkpoint='@m2f_control_s1', cfg_options=_iou),
             dict(name='mask2former', label='step 5 (no fine-tune)', config=_mask2former,
                  checkpoint='@mask2former', cfg_options=_iou),
             dict(name='proscale_ft', label='PRO-SCALE (3,3,3)+TRC+LPE fine-tuned',
                  config=_proscale, checkpoint='@proscale_ft', cfg_options=_iou),
         ] + [
             dict(name=f'ecom2f_exit_{k}', label=f'ECO-M2F parent, exit {k}', config=_eco_parent,
                  checkpoint='@ecom2f_parent',
                  cfg_options=dict(_eco_iou, **{'model.test_cfg.exit_layers': k}))
             for k in (2, 3, 4, 5, 6)
         ] + [
             dict(name=f'ecom2f_gate_{b}', label=f'ECO-M2F gate, beta {b}', config=_eco_gate,
                  checkpoint=f'@ecom2f_gate_{b}', cfg_options=_eco_iou) for b in _betas
         ],
         views=[dict(name='ecom2f_gate_vs_exits', part='decode_head.pixel_decoder.encoder',
                     title='ECO-M2F on the trained Mask2Former: gates vs the parent at fixed '
                     'exits (expected encoder GFLOPs)',
                     models=_eco_exits + _eco_gates, reference='ecom2f_exit_6',
                     curve=_eco_exits, curve_label='parent at fixed exits 2..6',
                     versus_curve=_eco_gates, noise_from='mask2former_methods')],
         est_minutes=_est_m2f_report),
    # 8. The two projects on the same trained weights, each by its host's fine-tuning recipe
    #    from the same start as the single methods and compared with the same control:
    #    * ALGM + token pruning: the selectors must learn (keep-ratio loss), so the project is
    #      fine-tuned from step 1 for the control's 300 iterations, as ALGM and pruning were.
    #    * PRO-SCALE + ECO-M2F: ECO-M2F's three steps on PRO-SCALE's encoder, starting from the
    #      PRO-SCALE weights of step 6 (the encoder the exits are placed in): Step A random-exit
    #      fine-tune (exits after stage 1, stage 2, layers 7, 8, 9), Step B table, Step C one
    #      gate at the middle beta. Evaluating step 6's weights at early exits without Step A
    #      would measure an encoder never trained to stop early, not the project.
    dict(name='algm_pruning_ft', kind='train', config=_algm_pruning, load_from='@segmenter_6k',
         seed=0, est_minutes=6),
    dict(_eval, name='algm_token_pruning', part='backbone', reference='control_s0',
         noise=['control_s0', 'control_s1'],
         title='Project ALGM + token pruning on the trained Segmenter ViT-T vs the control',
         models=[
             dict(name='control_s0', label='control (seed 0)', config=_control,
                  checkpoint='@control_s0'),
             dict(name='control_s1', label='control (seed 1)', config=_control,
                  checkpoint='@control_s1'),
             dict(name='algm_ft', label='ALGM fine-tuned (tau 0.90)', config=_algm,
                  checkpoint='@algm_ft'),
             dict(name='pruning_ft', label='token pruning fine-tuned', config=_pruning,
                  checkpoint='@pruning_ft'),
             dict(name='algm_pruning_ft', label='ALGM + token pruning fine-tuned',
                  config=_algm_pruning, checkpoint='@algm_pruning_ft'),
         ],
         est_minutes=3),
    dict(_m2f_train, name='proscale_ecom2f_parent', config=_pe_parent, load_from='@proscale_ft',
         seed=0, est_minutes=20),
    dict(name='proscale_ecom2f_table', kind='command', est_minutes=_est_table,
         args=['tools/ecom2f/build_quality_table.py', _pe_parent, '@proscale_ecom2f_parent',
               '--metric', 'miou', '--out', '{work_dir}/quality_table_train.json',
               '--cpu-deform-attn', 'gather'],
         outputs=dict(table='{work_dir}/quality_table_train.json')),
    dict(name=f'proscale_ecom2f_gate_{_pe_beta}', kind='train', config=_pe_gate, seed=0,
         cpu_deform_attn='gather', load_from='@proscale_ecom2f_parent', est_minutes=_est_gate,
         cfg_options={'model.quality_table': '@proscale_ecom2f_table:table',
                      'model.beta': _pe_beta}),
    dict(_m2f_eval, name='proscale_ecom2f', part='decode_head.pixel_decoder',
         reference='m2f_control_s0', noise_from='mask2former_methods',
         title='Project PRO-SCALE + ECO-M2F on the trained Mask2Former: gate vs fixed exits',
         curve=_pe_exits, curve_label='PRO-SCALE+ECO-M2F parent at fixed exits 3, 6, 7, 8, 9',
         versus_curve=[f'proscale_ecom2f_gate_{_pe_beta}'],
         models=[
             dict(name='m2f_control_s0', label='control (seed 0)', config=_m2f_control,
                  checkpoint='@m2f_control_s0', cfg_options=_iou),
         ] + [
             dict(name=f'proscale_ecom2f_exit_{k}', label=f'PRO-SCALE+ECO-M2F, exit {k}',
                  config=_pe_parent, checkpoint='@proscale_ecom2f_parent',
                  cfg_options=dict(_eco_iou, **{'model.test_cfg.exit_layers': k}))
             for k in (3, 6, 7, 8, 9)
         ] + [
             dict(name=f'proscale_ecom2f_gate_{_pe_beta}',
                  label=f'PRO-SCALE+ECO-M2F gate, beta {_pe_beta}', config=_pe_gate,
                  checkpoint=f'@proscale_ecom2f_gate_{_pe_beta}', cfg_options=_eco_iou),
         ],
         est_minutes=_est_pe_report),
    # 9. PRO-SCALE trained with the method on from the start, by step 5's recipe (2000 iterations
    #    x 4 crops from scratch), as the paper trains it: step 6 fine-tunes a converted step-5
    #    checkpoint (LPE replaces a trained 3x3 conv), so this tells the method's own cost from
    #    the conversion's. Compared with step 5, trained the same way without the method.
    dict(name='proscale_scratch', kind='train', config=_proscale_scratch, seed=0,
         cpu_deform_attn='gather', est_minutes=110),
    dict(_m2f_eval, name='proscale_scratch_vs_step5', part='decode_head.pixel_decoder',
         reference='mask2former', noise_from='mask2former_methods',
         title='PRO-SCALE (3,3,3)+TRC+LPE trained from scratch vs step 5 (same recipe)',
         models=[
             dict(name='mask2former', label='step 5: Mask2Former R18-lite, 2000 it',
                  config=_mask2former, checkpoint='@mask2former', cfg_options=_iou),
             dict(name='proscale_scratch', label='PRO-SCALE (3,3,3)+TRC+LPE, 2000 it',
                  config=_proscale_scratch, checkpoint='@proscale_scratch', cfg_options=_iou),
         ],
         est_minutes=8),
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
